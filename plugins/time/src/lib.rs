//! Resource type `time`: interval and time-window triggers, with the semantics of
//! Concourse's `time` resource.
//!
//! See README.md for the configuration. Versions are `{"time": "<RFC 3339, UTC>"}`, to the
//! second. All times are UTC: the sandbox has no time zone database. The decision is the
//! pure function [`next_version`], so it is tested with any clock.

use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, output_path,
};
use serde::Deserialize;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Day names, Monday first (index = ISO weekday - 1).
const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The resource type.
pub struct Time;

/// `source`: when new versions appear.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Minimum time between two versions, e.g. `1h`, `10m`, `1h30m`, `90s`.
    interval: Option<String>,
    /// Start of the daily window, `HH:MM` (or `HH:MM:SS`), UTC.
    start: Option<String>,
    /// End of the daily window (exclusive), `HH:MM`, UTC; before `start` for a window
    /// across midnight.
    stop: Option<String>,
    /// Days on which the window opens (full English names, any case).
    days: Option<Vec<String>>,
    /// Time zone of `start`/`stop`: only `UTC` is supported.
    location: Option<String>,
}

/// A validated `source`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Minimum seconds between two versions.
    pub interval: Option<i64>,
    /// Daily window: start and stop, in seconds after midnight UTC.
    pub window: Option<(i64, i64)>,
    /// Allowed days, Monday first; `None` for every day.
    pub days: Option<[bool; 7]>,
}

impl Source {
    /// Validates the source into a [`Schedule`]; errors name the field.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        if let Some(location) = &self.location
            && !matches!(location.as_str(), "UTC" | "Etc/UTC")
        {
            return Err(Error::invalid_config(format!(
                "source.location: `{location}` is not supported: only UTC (the sandbox has no time zone database); give start/stop in UTC"
            )));
        }
        let interval = self
            .interval
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| e.context("source.interval"))?;
        let window = match (&self.start, &self.stop) {
            (None, None) => None,
            (Some(start), Some(stop)) => {
                let start = parse_clock(start).map_err(|e| e.context("source.start"))?;
                let stop = parse_clock(stop).map_err(|e| e.context("source.stop"))?;
                if start == stop {
                    return Err(Error::invalid_config(
                        "source.stop: must differ from source.start (omit both for the whole day)",
                    ));
                }
                Some((start, stop))
            }
            (Some(_), None) => {
                return Err(Error::invalid_config(
                    "source.stop: required when source.start is given",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::invalid_config(
                    "source.start: required when source.stop is given",
                ));
            }
        };
        let days = match &self.days {
            None => None,
            Some(names) if names.is_empty() => {
                return Err(Error::invalid_config(
                    "source.days: give at least one day, or omit it for every day",
                ));
            }
            Some(names) => {
                let mut days = [false; 7];
                for (i, name) in names.iter().enumerate() {
                    let index = DAY_NAMES
                        .iter()
                        .position(|d| d.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            Error::invalid_config(format!(
                                "source.days[{i}]: `{name}` is not a day; expected one of {}",
                                DAY_NAMES.join(", ")
                            ))
                        })?;
                    days[index] = true;
                }
                Some(days)
            }
        };
        if interval.is_none() && window.is_none() && days.is_none() {
            return Err(Error::invalid_config(
                "source: give `interval`, `start` and `stop`, or `days`",
            ));
        }
        Ok(Schedule {
            interval,
            window,
            days,
        })
    }
}

/// Parses a duration like `1h`, `10m`, `1h30m`, `90s` into seconds (> 0).
fn parse_duration(text: &str) -> Result<i64, Error> {
    let bad = || {
        Error::invalid_config(format!(
            "`{text}` is not a duration; expected e.g. 1h, 10m, 1h30m or 90s"
        ))
    };
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(factor)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total == 0 {
        return Err(Error::invalid_config(format!(
            "`{text}` is zero; the interval must be positive"
        )));
    }
    Ok(total)
}

/// Parses `HH:MM` or `HH:MM:SS` (24-hour) into seconds after midnight.
fn parse_clock(text: &str) -> Result<i64, Error> {
    let bad = || {
        Error::invalid_config(format!(
            "`{text}` is not a time of day; expected HH:MM (24-hour, UTC), e.g. 09:00"
        ))
    };
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let mut values = [0i64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        values[i] = p.parse().map_err(|_| bad())?;
    }
    let [h, m, s] = values;
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + s)
}

/// Monday-first weekday index (0 = Monday) of the day `day` since 1970-01-01 (a Thursday).
fn weekday(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

/// The start of the window occurrence `now` falls in (or the last one before it), and
/// whether `now` is inside it on an allowed day.
fn occurrence(now: i64, schedule: &Schedule) -> (i64, bool) {
    let today = now.div_euclid(DAY) * DAY;
    let (start, inside) = match schedule.window {
        None => (today, true),
        Some((start, stop)) => {
            let length = (stop - start).rem_euclid(DAY);
            let mut begin = today + start;
            if begin > now {
                begin -= DAY;
            }
            (begin, now < begin + length)
        }
    };
    let allowed = schedule
        .days
        .is_none_or(|days| days[weekday(start.div_euclid(DAY))]);
    (start, inside && allowed)
}

/// Whether a new version (the time `now`) is due, given the previous version `from`
/// (seconds since the epoch, UTC).
///
/// - outside the window (or on a day not listed): never;
/// - no previous version: yes;
/// - with `interval`: when at least `interval` passed since `from`;
/// - without `interval`: once per window occurrence (per day when there is no window),
///   i.e. when `from` is before the start of the current occurrence.
pub fn next_version(now: i64, from: Option<i64>, schedule: &Schedule) -> bool {
    let (start, inside) = occurrence(now, schedule);
    if !inside {
        return false;
    }
    match (from, schedule.interval) {
        (None, _) => true,
        (Some(from), Some(interval)) => now - from >= interval,
        (Some(from), None) => from < start,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Formats seconds since the epoch as RFC 3339 in UTC: `2026-11-26T16:10:41Z`.
pub fn format_rfc3339(t: i64) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses RFC 3339 (`2026-11-26T16:10:41Z`, fractions ignored, `+02:00` offsets honoured)
/// into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[3..4], ":") => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s - offset)
}

/// The wall clock, in seconds since the epoch (WASI `wall-clock` inside the sandbox).
fn now() -> Result<i64, Error> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::failed(format!("the clock is before 1970: {e}")))?;
    i64::try_from(since.as_secs()).map_err(|_| Error::failed("the clock is out of range"))
}

fn version(t: i64) -> Version {
    Version::new().with("time", format_rfc3339(t))
}

/// `check` for the clock reading `now`: `from` (when it is a time) followed by `now` when
/// a new version is due.
pub fn check_at(now: i64, from: Option<Version>, schedule: &Schedule) -> Vec<Version> {
    let previous = from
        .as_ref()
        .and_then(|v| v.get("time"))
        .and_then(parse_rfc3339);
    let mut versions: Vec<Version> = match (previous, from) {
        (Some(_), Some(from)) => vec![from],
        _ => Vec::new(),
    };
    if next_version(now, previous, schedule) {
        versions.push(version(now));
    }
    versions
}

impl ResourceType for Time {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = NoParams;

    fn describe() -> Description {
        Description::new("time", env!("CARGO_PKG_VERSION"))
            .summary("Interval and time-window triggers (UTC)")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "interval": {
                        "type": "string",
                        "pattern": "^([0-9]+[hms])+$",
                        "description": "Minimum time between two versions, e.g. 1h, 10m, 1h30m, 90s"
                    },
                    "start": {
                        "type": "string",
                        "pattern": "^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$",
                        "description": "Start of the daily window, HH:MM, UTC"
                    },
                    "stop": {
                        "type": "string",
                        "pattern": "^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$",
                        "description": "End of the daily window (exclusive), HH:MM, UTC; before start for a window across midnight"
                    },
                    "days": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "enum": DAY_NAMES
                        },
                        "description": "Days on which the window opens"
                    },
                    "location": {
                        "enum": ["UTC", "Etc/UTC"],
                        "description": "Only UTC is supported"
                    }
                },
                "dependentRequired": { "start": ["stop"], "stop": ["start"] },
                "anyOf": [
                    { "required": ["interval"] },
                    { "required": ["start", "stop"] },
                    { "required": ["days"] }
                ],
                "additionalProperties": false
            }))
            .get_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "get takes no params.",
                "type": "object",
                "additionalProperties": false
            }))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "put takes no params: it creates a version of the current time.",
                "type": "object",
                "additionalProperties": false
            }))
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let schedule = source.schedule()?;
        Ok(check_at(now()?, from, &schedule))
    }

    fn get(source: Source, requested: Version, _: NoParams) -> Result<Fetched, Error> {
        source.schedule()?;
        let Some(t) = requested.get("time").and_then(parse_rfc3339) else {
            return Err(Error::not_found(format!(
                "version {requested} has no RFC 3339 `time`"
            )));
        };
        let text = format_rfc3339(t);
        let out = output_path("timestamp");
        fs::write(&out, &text).with_path(&out)?;
        Ok(Fetched::new(requested).with_metadata("time", text))
    }

    fn put(source: Source, _: NoParams) -> Result<Fetched, Error> {
        source.schedule()?;
        let t = now()?;
        Ok(Fetched::new(version(t)).with_metadata("time", format_rfc3339(t)))
    }
}

lockgate_sdk::export_resource_type!(Time);

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23 is a Monday.
    fn at(day: i64, clock: &str) -> i64 {
        parse_rfc3339(&format!("2026-11-{day:02}T{clock}:00Z")).unwrap()
    }

    fn schedule(json: &str) -> Schedule {
        lockgate_sdk::parse_json::<Source>("source", json)
            .unwrap()
            .schedule()
            .unwrap()
    }

    fn invalid(json: &str) -> String {
        match lockgate_sdk::parse_json::<Source>("source", json).and_then(|s| s.schedule()) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config for {json}, got {other:?}"),
        }
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        let t = parse_rfc3339("2026-11-26T16:10:41Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-11-26T16:10:41Z");
        assert_eq!(parse_rfc3339("2026-11-26T18:10:41.123+02:00"), Some(t));
        assert_eq!(
            format_rfc3339(parse_rfc3339("2024-02-29T23:59:59Z").unwrap() + 1),
            "2024-03-01T00:00:00Z"
        );
        for bad in [
            "",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-11-26T16:10:41",
            "x026-11-26T16:10:41Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(weekday(at(23, "12:00").div_euclid(DAY)), 0);
    }

    #[test]
    fn durations_and_clocks() {
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        for bad in ["", "h", "1x", "1.5h", "0s", "-1m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_clock("09:00").unwrap(), 9 * 3600);
        assert_eq!(parse_clock("23:59:30").unwrap(), 86_370);
        for bad in ["24:00", "9", "09:60", "9am", "09:00:00:00"] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_sources_name_the_field() {
        assert!(invalid(r#"{}"#).starts_with("source: give"));
        assert!(invalid(r#"{"interval": "soon"}"#).starts_with("source.interval:"));
        assert!(invalid(r#"{"start": "09:00"}"#).starts_with("source.stop:"));
        assert!(invalid(r#"{"start": "9h", "stop": "17:00"}"#).starts_with("source.start:"));
        assert!(invalid(r#"{"start": "09:00", "stop": "09:00"}"#).starts_with("source.stop:"));
        assert!(invalid(r#"{"days": ["Monday", "Funday"]}"#).starts_with("source.days[1]:"));
        assert!(
            invalid(r#"{"interval": "1h", "location": "Europe/Paris"}"#)
                .starts_with("source.location:")
        );
        assert!(invalid(r#"{"interval": "1h", "every": "x"}"#).starts_with("source.every:"));
    }

    #[test]
    fn interval_only() {
        let s = schedule(r#"{"interval": "1h"}"#);
        let t = at(24, "10:00");
        assert!(next_version(t, None, &s));
        assert!(!next_version(t + 3599, Some(t), &s));
        assert!(next_version(t + 3600, Some(t), &s));
        // a `from` in the future (clock skew) does not trigger
        assert!(!next_version(t, Some(t + 60), &s));
    }

    #[test]
    fn window_without_interval_fires_once_per_window() {
        let s = schedule(r#"{"start": "09:00", "stop": "17:00"}"#);
        assert!(!next_version(at(24, "08:59"), None, &s));
        assert!(next_version(at(24, "09:00"), None, &s));
        assert!(!next_version(at(24, "17:00"), None, &s));
        assert!(!next_version(at(24, "12:00"), Some(at(24, "09:05")), &s));
        assert!(next_version(at(25, "09:01"), Some(at(24, "09:05")), &s));
        assert!(!next_version(at(25, "18:00"), Some(at(24, "09:05")), &s));
    }

    #[test]
    fn window_across_midnight() {
        let s = schedule(r#"{"start": "22:00", "stop": "02:00", "location": "UTC"}"#);
        assert!(next_version(at(24, "23:30"), None, &s));
        assert!(next_version(at(25, "01:59"), None, &s));
        assert!(!next_version(at(25, "02:00"), None, &s));
        assert!(!next_version(at(25, "01:00"), Some(at(24, "22:10")), &s));
        assert!(next_version(at(25, "22:00"), Some(at(24, "22:10")), &s));
    }

    #[test]
    fn window_with_interval() {
        let s = schedule(r#"{"interval": "30m", "start": "09:00", "stop": "10:00"}"#);
        assert!(next_version(at(24, "09:30"), Some(at(24, "09:00")), &s));
        assert!(!next_version(at(24, "09:29"), Some(at(24, "09:00")), &s));
        assert!(!next_version(at(24, "10:30"), Some(at(24, "09:30")), &s));
    }

    #[test]
    fn days() {
        // Monday and Friday only, once a day.
        let s = schedule(r#"{"days": ["monday", "Friday"]}"#);
        assert!(next_version(at(23, "00:00"), None, &s)); // Monday
        assert!(!next_version(at(24, "12:00"), None, &s)); // Tuesday
        assert!(!next_version(at(23, "18:00"), Some(at(23, "01:00")), &s));
        assert!(next_version(at(27, "00:01"), Some(at(23, "01:00")), &s)); // Friday
        // A window across midnight belongs to the day it opened.
        let s = schedule(r#"{"start": "23:00", "stop": "01:00", "days": ["Sunday"]}"#);
        assert!(next_version(at(23, "00:30"), None, &s)); // Monday 00:30, opened Sunday
        assert!(!next_version(at(23, "23:30"), None, &s)); // Monday's window
    }

    #[test]
    fn check_keeps_from_and_appends_now() {
        let s = schedule(r#"{"interval": "1h"}"#);
        let t = at(24, "10:00");
        let from = version(t);
        let unchanged = check_at(t + 60, Some(from.clone()), &s);
        assert_eq!(unchanged.len(), 1);
        assert_eq!(unchanged[0], from);
        assert_eq!(
            check_at(t + 3600, Some(from.clone()), &s),
            [from, version(t + 3600)]
        );
        assert_eq!(check_at(t, None, &s), [version(t)]);
        let garbage = Version::new().with("time", "yesterday");
        assert_eq!(check_at(t, Some(garbage), &s), [version(t)]);
        let outside = schedule(r#"{"start": "09:00", "stop": "10:00"}"#);
        assert!(check_at(at(24, "11:00"), None, &outside).is_empty());
    }
}
