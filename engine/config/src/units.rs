//! Durations (`30s`, `1h30m`, `500ms`, `2 hours 30 minutes`) and sizes (`512MiB`, `1GiB`) as
//! written in pipelines.
//!
//! Durations are read in Lockgate's compact form (one or more `<number><unit>` parts, units
//! `ms`, `s`, `m`, `h`, `d`, any of them fractional: `90s`, `1h30m`, `1.5h`) and in jiff's
//! "friendly" format (`2h 30m`, `2 hours 30 minutes`, `1 day, 2h`, `1w`, `1.5 hours`), and
//! written in the compact form (`1d2h`, `1m30s250ms`), which both read.

use std::time::Duration;

use jiff::fmt::friendly::{Designator, Spacing, SpanParser, SpanPrinter};
use jiff::{SignedDuration, Span, SpanRelativeTo, SpanRound, Unit};

const DURATION_UNITS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

/// The longest duration accepted: 100 years of 24-hour days.
const MAX_DURATION_SECS: f64 = 100.0 * 365.0 * 86400.0;

/// Why a text is not a duration; each message names the text and shows what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was written.
    #[error("empty duration: write e.g. `30s`, `10m` or `1h30m`")]
    Empty,
    /// The text has no recognisable `<number><unit>` part.
    #[error("`{text}` is not a duration: write e.g. `30s`, `10m` or `1h30m`")]
    NotADuration {
        /// The text.
        text: String,
    },
    /// A part's number does not parse (e.g. `1..5s`).
    #[error("`{text}` is not a duration: `{number}` is not a number")]
    BadNumber {
        /// The text.
        text: String,
        /// The number.
        number: String,
    },
    /// A number without a unit (e.g. `10`).
    #[error("`{text}` has no unit: write `{number}s`, `{number}m` or `{number}h`")]
    NoUnit {
        /// The text.
        text: String,
        /// The number.
        number: String,
    },
    /// A unit neither form knows (e.g. `10x`).
    #[error("unknown unit `{unit}` in duration `{text}`: use ms, s, m, h or d")]
    UnknownUnit {
        /// The text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// More than 100 years.
    #[error("duration `{text}` is too long")]
    TooLong {
        /// The text.
        text: String,
    },
    /// A negative duration (`-5s`, `5s ago`).
    #[error("duration `{text}` is negative: write a length of time, e.g. `30s` or `10m`")]
    Negative {
        /// The text.
        text: String,
    },
    /// Months or years, which have no fixed length.
    #[error(
        "duration `{text}` uses months or years, which have no fixed length: write days or weeks, e.g. `30d` or `4w`"
    )]
    Calendar {
        /// The text.
        text: String,
    },
}

/// Parses a duration: Lockgate's compact form, one or more `<number><unit>` parts with units
/// `ms`, `s`, `m`, `h`, `d` (`90s`, `1h30m`, `1.5h`, `500ms`), or `0`; or jiff's friendly
/// format (`2h 30m`, `2 hours 30 minutes`, `1 day 2 hours`, `1w`), where a day is 24 hours.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    match parse_compact(s) {
        Ok(d) => Ok(d),
        Err(compact) => match SpanParser::new().parse_span(s) {
            Ok(span) => friendly(s, span),
            // Neither form: the compact form's reason is the more precise one.
            Err(_) => Err(compact),
        },
    }
}

/// Lockgate's compact form: `<number><unit>` parts, summed.
fn parse_compact(s: &str) -> Result<Duration, DurationError> {
    let mut rest = s;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(DurationError::NotADuration { text: s.to_owned() });
        }
        let value: f64 = number.parse().map_err(|_| DurationError::BadNumber {
            text: s.to_owned(),
            number: number.to_owned(),
        })?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        if unit.is_empty() {
            return Err(DurationError::NoUnit {
                text: s.to_owned(),
                number: number.to_owned(),
            });
        }
        let Some((_, factor)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(DurationError::UnknownUnit {
                text: s.to_owned(),
                unit: unit.to_owned(),
            });
        };
        seconds += value * factor;
        rest = &rest[unit_len..];
    }
    if !seconds.is_finite() || seconds > MAX_DURATION_SECS {
        return Err(DurationError::TooLong { text: s.to_owned() });
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A span read in jiff's friendly format, as a length of time (days of 24 hours).
fn friendly(s: &str, span: Span) -> Result<Duration, DurationError> {
    if span.is_negative() {
        return Err(DurationError::Negative { text: s.to_owned() });
    }
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(DurationError::Calendar { text: s.to_owned() });
    }
    let too_long = || DurationError::TooLong { text: s.to_owned() };
    let d: SignedDuration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| too_long())?;
    let d = Duration::try_from(d).map_err(|_| too_long())?;
    if d.as_secs_f64() > MAX_DURATION_SECS {
        return Err(too_long());
    }
    Ok(d)
}

/// A duration the way pipelines write it, to the millisecond: `1h30m`, `45s`, `250ms`,
/// `1d2h` (jiff's friendly format with compact designators and no spaces).
pub fn format_duration(d: Duration) -> String {
    let millis = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let span = Span::try_from(millis).and_then(|span| {
        span.round(
            SpanRound::new()
                .largest(Unit::Day)
                .smallest(Unit::Millisecond)
                .days_are_24_hours(),
        )
    });
    match span {
        Ok(span) => SpanPrinter::new()
            .designator(Designator::Compact)
            .spacing(Spacing::None)
            .span_to_string(&span),
        // Beyond what a span holds (far more than any pipeline's duration): in seconds.
        Err(_) => format!("{}s", d.as_secs()),
    }
}

const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1000),
    ("MB", 1000 * 1000),
    ("GB", 1000 * 1000 * 1000),
];

/// Why a text is not a size; each message names the text and shows what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// No number in front.
    #[error("`{text}` is not a size: write e.g. `512MiB` or `1GiB`")]
    NotASize {
        /// The text.
        text: String,
    },
    /// A number without a unit.
    #[error("`{text}` has no unit: write e.g. `{number}MiB` (units B, KiB, MiB, GiB, KB, MB, GB)")]
    NoUnit {
        /// The text.
        text: String,
        /// The number.
        number: String,
    },
    /// An unknown unit.
    #[error("unknown unit `{unit}` in size `{text}`: use B, KiB, MiB, GiB, KB, MB or GB")]
    UnknownUnit {
        /// The text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// More than fits in 64 bits.
    #[error("size `{text}` is too large")]
    TooLarge {
        /// The text.
        text: String,
    },
}

/// Parses a size in bytes: a number and a unit, `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or
/// `KB`, `MB`, `GB` (powers of 1000): `512MiB`, `1GiB`, `1.5GiB`.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let s = text.trim();
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..number_len], s[number_len..].trim());
    let value: f64 = number
        .parse()
        .map_err(|_| SizeError::NotASize { text: s.to_owned() })?;
    if unit.is_empty() {
        return Err(SizeError::NoUnit {
            text: s.to_owned(),
            number: number.to_owned(),
        });
    }
    let Some((_, factor)) = SIZE_UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit))
    else {
        return Err(SizeError::UnknownUnit {
            text: s.to_owned(),
            unit: unit.to_owned(),
        });
    };
    let bytes = value * *factor as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(SizeError::TooLarge { text: s.to_owned() });
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration(" 10m ").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("1m30s250ms").unwrap(),
            Duration::from_millis(90_250)
        );
    }

    #[test]
    fn friendly_durations() {
        let cases = [
            ("2h 30m", 9000),
            ("2 hours 30 minutes", 9000),
            ("2 hrs, 30 mins", 9000),
            ("1 day 2 hours", 93_600),
            ("1w", 604_800),
            ("1.5 hours", 5400),
            ("90 seconds", 90),
            ("1h 30m 15s", 5415),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::from_secs(secs),
                "{text}"
            );
        }
        assert_eq!(
            parse_duration("1s 250ms").unwrap(),
            Duration::from_millis(1250)
        );
    }

    #[test]
    fn bad_durations_say_why() {
        let message = |text: &str| parse_duration(text).unwrap_err().to_string();
        assert!(message("10").contains("no unit"));
        assert!(message("10x").contains("unknown unit `x`"));
        assert_eq!(
            message("1x"),
            "unknown unit `x` in duration `1x`: use ms, s, m, h or d"
        );
        assert!(message("").contains("empty"));
        assert_eq!(
            message("sometimes"),
            "`sometimes` is not a duration: write e.g. `30s`, `10m` or `1h30m`"
        );
        assert!(message("1..5s").contains("not a number"));
        assert!(message("m").contains("not a duration"));
        assert!(message("-5s").contains("is negative"), "{}", message("-5s"));
        assert!(message("5 minutes ago").contains("is negative"));
        assert!(message("2 months").contains("no fixed length"));
        assert!(message("200 years").contains("`200 years`"));
        assert!(message("40000d").contains("too long"));
    }

    #[test]
    fn formatting_round_trips() {
        for s in ["1h30m", "45s", "250ms", "1d2h", "10m", "1m30s250ms", "2d"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert!(format_duration(Duration::MAX).ends_with('s'));
        // To the millisecond; friendly input comes back compact.
        assert_eq!(format_duration(Duration::from_micros(1_500_700)), "1s500ms");
        assert_eq!(
            format_duration(parse_duration("2 hours 30 minutes").unwrap()),
            "2h30m"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("512 mib").unwrap(), 512 << 20);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("64B").unwrap(), 64);
        let message = |text: &str| parse_size(text).unwrap_err().to_string();
        assert!(message("512").contains("no unit"));
        assert!(message("512XB").contains("unknown unit"));
        assert!(message("lots").contains("not a size"));
    }
}
