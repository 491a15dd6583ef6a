//! Resource type `time`: interval and time-window triggers, with the semantics of
//! Concourse's `time` resource.
//!
//! See README.md for the configuration. Versions are `{"time": "<RFC 3339, UTC>"}`, to the
//! second. The window (`start`, `stop`) and the `days` are read in `location`, an IANA time
//! zone (default UTC) looked up in the time zone database bundled into the component (the
//! sandbox has none). The decision is the pure function [`next_version`], so it is tested
//! with any clock.

use std::fs;

use jiff::civil::{Date, Time as Clock};
use jiff::fmt::friendly::SpanParser;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, SpanRelativeTo, Timestamp};
use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, output_path,
};
use serde::Deserialize;

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
    /// Minimum time between two versions, e.g. `1h`, `10m`, `1h30m`, `90s`, `2d`.
    interval: Option<String>,
    /// Start of the daily window, `HH:MM` (or `HH:MM:SS`), in `location`.
    start: Option<String>,
    /// End of the daily window (exclusive), `HH:MM`, in `location`; before `start` for a
    /// window across midnight.
    stop: Option<String>,
    /// Days on which the window opens (full English names, any case), in `location`.
    days: Option<Vec<String>>,
    /// IANA time zone of `start`, `stop` and `days`, e.g. `Europe/Paris`; default `UTC`.
    location: Option<String>,
}

/// A validated `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Minimum time between two versions.
    pub interval: Option<SignedDuration>,
    /// Daily window: start and stop, wall-clock times in `zone`.
    pub window: Option<(Clock, Clock)>,
    /// Allowed days, Monday first; `None` for every day.
    pub days: Option<[bool; 7]>,
    /// Where the window and the days are read.
    pub zone: TimeZone,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            interval: None,
            window: None,
            days: None,
            zone: TimeZone::UTC,
        }
    }
}

impl Source {
    /// Validates the source into a [`Schedule`]; errors name the field.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        let zone = match &self.location {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name.trim()).map_err(|_| {
                Error::invalid_config(format!(
                    "source.location: `{name}` is not a time zone of the IANA database; write e.g. Europe/Paris, America/New_York or UTC"
                ))
            })?,
        };
        let interval = self
            .interval
            .as_deref()
            .map(parse_interval)
            .transpose()
            .map_err(|e| Error::invalid_config(format!("source.interval: {e}")))?;
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
            zone,
        })
    }
}

/// Parses a duration in Lockgate's dialect: jiff's "friendly" format
/// ([`jiff::fmt::friendly`]) with units up to weeks, a day being 24 hours, not negative.
///
/// Accepted: `30s`, `10m`, `1h30m`, `1h 30m`, `1.5h`, `500ms`, `2d`, `1w`, `90 seconds`,
/// `1 hour, 30 minutes`, `01:30:00`. Refused: months and years (their length varies), a
/// sign or `ago`, ISO 8601 (`PT1H`), a number without a unit.
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    const PARSER: SpanParser = SpanParser::new();
    let hint = "write e.g. 30s, 10m, 1h30m or 2d";
    let span = PARSER
        .parse_span(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); {hint}"))?;
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(format!(
            "`{text}`: months and years have no fixed length; {hint}"
        ));
    }
    if span.is_negative() {
        return Err(format!("`{text}` is negative; {hint}"));
    }
    span.to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("`{text}` is out of range ({e})"))
}

/// [`parse_duration`], and positive.
fn parse_interval(text: &str) -> Result<SignedDuration, String> {
    let interval = parse_duration(text)?;
    if interval.is_zero() {
        return Err(format!("`{text}` is zero; the interval must be positive"));
    }
    Ok(interval)
}

/// Parses `HH:MM` or `HH:MM:SS` (24-hour) into a wall-clock time.
fn parse_clock(text: &str) -> Result<Clock, Error> {
    let bad = || {
        Error::invalid_config(format!(
            "`{text}` is not a time of day; expected HH:MM (24-hour), e.g. 09:00"
        ))
    };
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let mut values = [0i8; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        values[i] = p.parse().map_err(|_| bad())?;
    }
    let [h, m, s] = values;
    Clock::new(h, m, s, 0).map_err(|_| bad())
}

/// The start of the window occurrence `now` falls in (or the last one before it), and
/// whether `now` is inside it on an allowed day. `None` only at the ends of the
/// representable range (years -9999 and 9999).
fn occurrence(now: Timestamp, schedule: &Schedule) -> Option<(Timestamp, bool)> {
    let zone = &schedule.zone;
    // A wall-clock time in a gap (the clocks jump forward) means the instant after the gap;
    // in a fold (they go back), the first of the two.
    let at = |date: Date, clock: Clock| zone.to_timestamp(date.to_datetime(clock)).ok();
    let today = zone.to_datetime(now).date();
    let (opened, start, inside) = match schedule.window {
        None => (today, at(today, Clock::midnight())?, true),
        Some((start, stop)) => {
            let mut opened = today;
            let mut begin = at(today, start)?;
            if begin > now {
                opened = today.yesterday().ok()?;
                begin = at(opened, start)?;
            }
            let closes = if stop > start {
                opened
            } else {
                opened.tomorrow().ok()?
            };
            (opened, begin, now < at(closes, stop)?)
        }
    };
    let allowed = schedule
        .days
        .is_none_or(|days| days[opened.weekday().to_monday_zero_offset() as usize]);
    Some((start, inside && allowed))
}

/// Whether a new version (the time `now`) is due, given the previous version `from`.
///
/// - outside the window (or on a day not listed): never;
/// - no previous version: yes;
/// - with `interval`: when at least `interval` passed since `from`;
/// - without `interval`: once per window occurrence (per day when there is no window),
///   i.e. when `from` is before the start of the current occurrence.
pub fn next_version(now: Timestamp, from: Option<Timestamp>, schedule: &Schedule) -> bool {
    let Some((start, inside)) = occurrence(now, schedule) else {
        return false;
    };
    if !inside {
        return false;
    }
    match (from, schedule.interval) {
        (None, _) => true,
        (Some(from), Some(interval)) => now.duration_since(from) >= interval,
        (Some(from), None) => from < start,
    }
}

/// The time of a version: RFC 3339 (`2026-11-26T16:10:41Z`, `+02:00` offsets honoured),
/// fractions of a second dropped.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t: Timestamp = text.parse().ok()?;
    Timestamp::from_second(t.as_second()).ok()
}

/// The wall clock (WASI `wall-clock` inside the sandbox), to the second.
fn now() -> Result<Timestamp, Error> {
    Timestamp::from_second(Timestamp::now().as_second())
        .map_err(|e| Error::failed(format!("the clock is out of range: {e}")))
}

/// The version of `t`: `{"time": "2026-11-26T16:10:41Z"}`.
fn version(t: Timestamp) -> Version {
    Version::new().with("time", t.to_string())
}

/// `check` for the clock reading `now`: `from` (when it is a time) followed by `now` when
/// a new version is due.
pub fn check_at(now: Timestamp, from: Option<Version>, schedule: &Schedule) -> Vec<Version> {
    let previous = from
        .as_ref()
        .and_then(|v| v.get("time"))
        .and_then(parse_time);
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
            .summary("Interval and time-window triggers, in any time zone")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "interval": {
                        "type": "string",
                        "minLength": 2,
                        "description": "Minimum time between two versions, positive: e.g. 90s, 10m, 1h30m, 1h 30m, 1.5h, 2d, 1w (jiff's friendly duration format; a day is 24 hours; no months or years)"
                    },
                    "start": {
                        "type": "string",
                        "pattern": "^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$",
                        "description": "Start of the daily window, HH:MM (24-hour), in location"
                    },
                    "stop": {
                        "type": "string",
                        "pattern": "^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$",
                        "description": "End of the daily window (exclusive), HH:MM (24-hour), in location; before start for a window across midnight"
                    },
                    "days": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "enum": DAY_NAMES
                        },
                        "description": "Days on which the window opens (full English names, any case), in location"
                    },
                    "location": {
                        "type": "string",
                        "minLength": 1,
                        "examples": ["UTC", "Europe/Paris", "America/New_York"],
                        "description": "IANA time zone in which start, stop and days are read (the time zone database is built into the plugin); default UTC"
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
        let Some(t) = requested.get("time").and_then(parse_time) else {
            return Err(Error::not_found(format!(
                "version {requested} has no RFC 3339 `time`"
            )));
        };
        let text = t.to_string();
        let out = output_path("timestamp");
        fs::write(&out, &text).with_path(&out)?;
        Ok(Fetched::new(requested).with_metadata("time", text))
    }

    fn put(source: Source, _: NoParams) -> Result<Fetched, Error> {
        source.schedule()?;
        let t = now()?;
        Ok(Fetched::new(version(t)).with_metadata("time", t.to_string()))
    }
}

lockgate_sdk::export_resource_type!(Time);

#[cfg(test)]
mod tests {
    use super::*;

    /// A UTC time on a day of November 2026 (2026-11-23 is a Monday).
    fn at(day: i64, clock: &str) -> Timestamp {
        utc(&format!("2026-11-{day:02}T{clock}:00Z"))
    }

    fn utc(text: &str) -> Timestamp {
        parse_time(text).unwrap_or_else(|| panic!("{text}"))
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

    fn secs(text: &str) -> i64 {
        let d = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(d.subsec_nanos(), 0, "{text}");
        d.as_secs()
    }

    #[test]
    fn times_round_trip() {
        assert_eq!(
            version(Timestamp::UNIX_EPOCH),
            Version::new().with("time", "1970-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("1970-01-01T00:00:00Z"),
            Some(Timestamp::UNIX_EPOCH)
        );
        let t = utc("2026-11-26T16:10:41Z");
        assert_eq!(t.to_string(), "2026-11-26T16:10:41Z");
        assert_eq!(parse_time("2026-11-26T18:10:41.123+02:00"), Some(t));
        assert_eq!(
            (utc("2024-02-29T23:59:59Z") + SignedDuration::from_secs(1)).to_string(),
            "2024-03-01T00:00:00Z"
        );
        for bad in [
            "",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-26T16:10:41",
            "x026-11-26T16:10:41Z",
            "yesterday",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_in_the_friendly_dialect() {
        // What the plugin accepted before jiff, and what the engine's units accept.
        assert_eq!(secs("30s"), 30);
        assert_eq!(secs("1m"), 60);
        assert_eq!(secs("1h"), 3600);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("1m30s"), 90);
        assert_eq!(secs("1.5h"), 5400);
        assert_eq!(secs("2d"), 172_800);
        assert_eq!(secs(" 10m "), 600);
        assert_eq!(
            parse_duration("500ms").unwrap(),
            SignedDuration::from_millis(500)
        );
        assert_eq!(
            parse_duration("1m30s250ms").unwrap(),
            SignedDuration::from_millis(90_250)
        );
        assert!(parse_duration("0s").unwrap().is_zero());
        // What the friendly format adds.
        assert_eq!(secs("1h 30m"), 5400);
        assert_eq!(secs("1 hour, 30 minutes"), 5400);
        assert_eq!(secs("90 seconds"), 90);
        assert_eq!(secs("1w"), 7 * 86_400);
        assert_eq!(secs("01:30:00"), 5400);
        assert_eq!(secs("1hr30min"), 5400);
        assert_eq!(secs("1d12h"), 129_600);
        // Where the dialect differs from the engine's former parser: a bare `0`, fractions
        // anywhere but the last unit, fractional days, upper-case units.
        for bad in [
            "", "h", "1x", "10", "soon", "-1m", "1m ago", "1mo", "1y", "PT1H", "1..5s", "0",
            "1.5h30m", "1.5d", "1H",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(
            parse_duration("1mo")
                .unwrap_err()
                .contains("months and years")
        );
        assert!(parse_interval("0s").unwrap_err().contains("positive"));
        assert_eq!(parse_interval("2m").unwrap(), SignedDuration::from_mins(2));
    }

    #[test]
    fn clocks() {
        assert_eq!(
            parse_clock("09:00").unwrap(),
            Clock::new(9, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_clock("23:59:30").unwrap(),
            Clock::new(23, 59, 30, 0).unwrap()
        );
        for bad in ["24:00", "9", "09:60", "9am", "09:00:00:00", "-1:00"] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_sources_name_the_field() {
        assert!(invalid(r#"{}"#).starts_with("source: give"));
        assert!(invalid(r#"{"interval": "soon"}"#).starts_with("source.interval:"));
        assert!(invalid(r#"{"interval": "0m"}"#).starts_with("source.interval:"));
        assert!(invalid(r#"{"start": "09:00"}"#).starts_with("source.stop:"));
        assert!(invalid(r#"{"start": "9h", "stop": "17:00"}"#).starts_with("source.start:"));
        assert!(invalid(r#"{"start": "09:00", "stop": "09:00"}"#).starts_with("source.stop:"));
        assert!(invalid(r#"{"days": ["Monday", "Funday"]}"#).starts_with("source.days[1]:"));
        assert!(
            invalid(r#"{"interval": "1h", "location": "Mars/Olympus_Mons"}"#)
                .starts_with("source.location:")
        );
        assert!(invalid(r#"{"interval": "1h", "every": "x"}"#).starts_with("source.every:"));
        for zone in [
            "UTC",
            "Etc/UTC",
            "Europe/Paris",
            "America/New_York",
            "Asia/Kolkata",
        ] {
            let s = schedule(&format!(r#"{{"interval": "1h", "location": "{zone}"}}"#));
            assert_eq!(s.zone.iana_name(), Some(zone), "{zone}");
        }
    }

    #[test]
    fn interval_only() {
        let s = schedule(r#"{"interval": "1h"}"#);
        let t = at(24, "10:00");
        let hour = SignedDuration::from_hours(1);
        assert!(next_version(t, None, &s));
        assert!(!next_version(
            t + hour - SignedDuration::from_secs(1),
            Some(t),
            &s
        ));
        assert!(next_version(t + hour, Some(t), &s));
        // a `from` in the future (clock skew) does not trigger
        assert!(!next_version(t, Some(t + SignedDuration::from_mins(1)), &s));
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
    fn window_in_a_location() {
        // Paris is UTC+1 in November: 09:00-17:00 there is 08:00-16:00 UTC.
        let s = schedule(r#"{"start": "09:00", "stop": "17:00", "location": "Europe/Paris"}"#);
        assert!(!next_version(at(24, "07:59"), None, &s));
        assert!(next_version(at(24, "08:00"), None, &s));
        assert!(next_version(at(24, "15:59"), None, &s));
        assert!(!next_version(at(24, "16:00"), None, &s));
        // Once per window: the window opened at 08:00 UTC.
        assert!(!next_version(at(24, "12:00"), Some(at(24, "08:00")), &s));
        assert!(next_version(at(24, "12:00"), Some(at(24, "07:59")), &s));

        // New York's 09:00 follows daylight saving time (it began on 2026-03-08).
        let s = schedule(r#"{"start": "09:00", "stop": "10:00", "location": "America/New_York"}"#);
        assert!(next_version(utc("2026-03-06T14:00:00Z"), None, &s)); // EST, UTC-5
        assert!(!next_version(utc("2026-03-06T13:00:00Z"), None, &s));
        assert!(next_version(utc("2026-03-09T13:00:00Z"), None, &s)); // EDT, UTC-4
        assert!(!next_version(utc("2026-03-09T14:00:00Z"), None, &s));

        // A start in the gap of the spring change (02:30 does not exist on 2026-03-08)
        // opens the window when the clocks reach 03:30 EDT.
        let s = schedule(r#"{"start": "02:30", "stop": "04:00", "location": "America/New_York"}"#);
        assert!(!next_version(utc("2026-03-08T07:29:00Z"), None, &s));
        assert!(next_version(utc("2026-03-08T07:30:00Z"), None, &s));
        assert!(!next_version(utc("2026-03-08T08:00:00Z"), None, &s));
    }

    #[test]
    fn days_in_a_location() {
        // Monday 12:00 UTC is already Tuesday 01:00 in Auckland (UTC+13 in November).
        let s = schedule(r#"{"days": ["Tuesday"], "location": "Pacific/Auckland"}"#);
        assert!(next_version(at(23, "12:00"), None, &s));
        assert!(!next_version(at(23, "10:59"), None, &s)); // Monday 23:59 there
        assert!(!next_version(at(24, "11:00"), None, &s)); // Wednesday 00:00 there
        // Once per day, the day being Tokyo's (UTC+9).
        let s =
            schedule(r#"{"days": ["Monday", "Tuesday", "Wednesday"], "location": "Asia/Tokyo"}"#);
        assert!(next_version(at(23, "15:00"), Some(at(23, "14:59")), &s));
        assert!(!next_version(at(24, "14:59"), Some(at(23, "15:00")), &s));
        assert!(next_version(at(24, "15:00"), Some(at(23, "15:00")), &s));
    }

    #[test]
    fn check_keeps_from_and_appends_now() {
        let s = schedule(r#"{"interval": "1h"}"#);
        let t = at(24, "10:00");
        let from = version(t);
        let unchanged = check_at(t + SignedDuration::from_mins(1), Some(from.clone()), &s);
        assert_eq!(unchanged.len(), 1);
        assert_eq!(unchanged[0], from);
        let later = t + SignedDuration::from_hours(1);
        assert_eq!(
            check_at(later, Some(from.clone()), &s),
            [from, version(later)]
        );
        assert_eq!(check_at(t, None, &s), [version(t)]);
        let garbage = Version::new().with("time", "yesterday");
        assert_eq!(check_at(t, Some(garbage), &s), [version(t)]);
        let outside = schedule(r#"{"start": "09:00", "stop": "10:00"}"#);
        assert!(check_at(at(24, "11:00"), None, &outside).is_empty());
    }
}
