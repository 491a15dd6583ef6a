//! Durations (`30s`, `1h30m`, `500ms`) and sizes (`512MiB`, `1GiB`) as written in pipelines.

use std::time::Duration;

const DURATION_UNITS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

/// Parses a duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`
/// (`90s`, `1h30m`, `1.5h`, `500ms`), or `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration: write e.g. `30s`, `10m` or `1h30m`".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(format!(
                "`{s}` is not a duration: write e.g. `30s`, `10m` or `1h30m`"
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a duration: `{number}` is not a number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        if unit.is_empty() {
            return Err(format!(
                "`{s}` has no unit: write `{number}s`, `{number}m` or `{number}h`"
            ));
        }
        let Some((_, factor)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit `{unit}` in duration `{s}`: use ms, s, m, h or d"
            ));
        };
        seconds += value * factor;
        rest = &rest[unit_len..];
    }
    if !seconds.is_finite() || seconds > 100.0 * 365.0 * 86400.0 {
        return Err(format!("duration `{s}` is too long"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A duration the way pipelines write it: `1h30m`, `45s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = total_ms;
    for (unit, ms) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if rest >= ms {
            out.push_str(&format!("{}{unit}", rest / ms));
            rest %= ms;
        }
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ms"));
    }
    out
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

/// Parses a size in bytes: a number and a unit, `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or
/// `KB`, `MB`, `GB` (powers of 1000): `512MiB`, `1GiB`, `1.5GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..number_len], s[number_len..].trim());
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size: write e.g. `512MiB` or `1GiB`"))?;
    if unit.is_empty() {
        return Err(format!(
            "`{s}` has no unit: write e.g. `{number}MiB` (units B, KiB, MiB, GiB, KB, MB, GB)"
        ));
    }
    let Some((_, factor)) = SIZE_UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit))
    else {
        return Err(format!(
            "unknown unit `{unit}` in size `{s}`: use B, KiB, MiB, GiB, KB, MB or GB"
        ));
    };
    let bytes = value * *factor as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("size `{s}` is too large"));
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
    fn bad_durations_say_why() {
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("10x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("1..5s")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(parse_duration("m").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn formatting_round_trips() {
        for s in ["1h30m", "45s", "250ms", "1d2h", "10m"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("512 mib").unwrap(), 512 << 20);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("64B").unwrap(), 64);
        assert!(parse_size("512").unwrap_err().contains("no unit"));
        assert!(parse_size("512XB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
    }
}
