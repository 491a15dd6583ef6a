//! Release versions: parsed as semver tolerantly, filtered by a family or a regexp, and the
//! slice of an ordered list that `check` answers given `from`.

use lockgate_sdk::Error;
use regex::Regex;
use semver::Version;

/// Parses a release version as semver, tolerantly ([`lockgate_sdk::ordering::parse_semver`]:
/// `v1.2` → `1.2.0`, `270` → `270.0.0`, `1.06` → `1.6.0`, `2.0-rc.1` → `2.0.0-rc.1`; `None`
/// for `nightly-2026`, `1.2.3.4`, `latest`).
///
/// ```
/// use release_feed::version::parse_tolerant;
///
/// assert_eq!(parse_tolerant("v1.2").unwrap().to_string(), "1.2.0");
/// assert_eq!(parse_tolerant("270.12").unwrap().to_string(), "270.12.0");
/// assert_eq!(parse_tolerant("0.283.0").unwrap().to_string(), "0.283.0");
/// assert_eq!(parse_tolerant("2.0-rc.1").unwrap().to_string(), "2.0.0-rc.1");
/// assert!(parse_tolerant("nightly-2026").is_none());
/// ```
pub fn parse_tolerant(text: &str) -> Option<Version> {
    lockgate_sdk::ordering::parse_semver(text)
}

/// A version family: `1.406` is every `1.406.*`, `621` every `621.*`, `1.2.3` every
/// `1.2.3` (with pre-releases and build metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    text: String,
    floor: (u64, u64, u64),
    ceiling: (u64, u64, u64),
}

impl Family {
    /// Parses `field`'s value: one to three numbers separated by dots. `latest` and an empty
    /// text mean no family (`None`).
    pub fn parse(field: &str, text: &str) -> Result<Option<Family>, Error> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed == "latest" {
            return Ok(None);
        }
        let bad = || {
            Error::invalid_config(format!(
                "{field}: `{text}` is not a version family; expected one to three numbers such as `1`, `1.406` or `0.283.0` (or `latest`)"
            ))
        };
        let parts: Vec<&str> = trimmed.split('.').collect();
        if parts.len() > 3 {
            return Err(bad());
        }
        let mut numbers = [0u64; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = part.parse().map_err(|_| bad())?;
        }
        let floor = (numbers[0], numbers[1], numbers[2]);
        let mut ceiling = floor;
        match parts.len() {
            1 => ceiling = (floor.0.saturating_add(1), 0, 0),
            2 => ceiling.1 = floor.1.saturating_add(1),
            _ => ceiling.2 = floor.2.saturating_add(1),
        }
        Ok(Some(Family {
            text: trimmed.to_string(),
            floor,
            ceiling,
        }))
    }

    /// Whether `version` belongs to the family.
    pub fn contains(&self, version: &Version) -> bool {
        let core = (version.major, version.minor, version.patch);
        core >= self.floor && core < self.ceiling
    }

    /// The family as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Which versions a feed offers: a family and a regexp (matched against the whole version
/// text), both optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    family: Option<Family>,
    regexp: Option<Regex>,
}

impl Filter {
    /// From the `version_family` and `regexp` fields (named `family_field` and
    /// `regexp_field` in messages).
    pub fn new(
        family_field: &str,
        family: Option<&str>,
        regexp_field: &str,
        regexp: Option<&str>,
    ) -> Result<Self, Error> {
        let family = match family {
            Some(text) => Family::parse(family_field, text)?,
            None => None,
        };
        let regexp = match regexp {
            Some(text) => Some(Regex::new(&format!("^(?:{text})$")).map_err(|e| {
                Error::invalid_config(format!(
                    "{regexp_field}: `{text}` is not a valid regexp: {e}"
                ))
            })?),
            None => None,
        };
        Ok(Self { family, regexp })
    }

    /// Whether the version `text` (parsed: `version`) passes.
    pub fn accepts(&self, text: &str, version: &Version) -> bool {
        self.family.as_ref().is_none_or(|f| f.contains(version))
            && self.regexp.as_ref().is_none_or(|r| r.is_match(text))
    }

    /// What the filter holds, for log lines: `version family 1.406, regexp ^…$`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.family {
            parts.push(format!("version family {}", f.as_str()));
        }
        if let Some(r) = &self.regexp {
            parts.push(format!("regexp {}", r.as_str()));
        }
        if parts.is_empty() {
            "no filter".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Parses each item's version (`version_of`) tolerantly and orders the items oldest first;
/// ties keep their order. Items whose version is not a version are left out and returned
/// apart (their version texts), for a log line.
pub fn order<T>(
    items: Vec<T>,
    version_of: impl Fn(&T) -> &str,
) -> (Vec<(Version, T)>, Vec<String>) {
    let mut ordered = Vec::with_capacity(items.len());
    let mut skipped = Vec::new();
    for item in items {
        match parse_tolerant(version_of(&item)) {
            Some(v) => ordered.push((v, item)),
            None => skipped.push(version_of(&item).to_string()),
        }
    }
    // Stable: equal versions keep the feed's order.
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    (ordered, skipped)
}

/// What `check` answers from `ordered` (oldest first) given where `from` is in it: `from`
/// and every newer item when `from` is there, else only the newest (none for an empty list).
pub fn since<T>(ordered: &[T], from: Option<usize>) -> &[T] {
    match from {
        Some(i) if i < ordered.len() => &ordered[i..],
        _ => &ordered[ordered.len().saturating_sub(1)..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        parse_tolerant(text).unwrap()
    }

    #[test]
    fn tolerant_parsing() {
        assert_eq!(v("1.2.3"), Version::new(1, 2, 3));
        assert_eq!(v("V7"), Version::new(7, 0, 0));
        assert_eq!(v("3586.100"), Version::new(3586, 100, 0));
        assert_eq!(v("1.06"), Version::new(1, 6, 0));
        assert_eq!(v("1+dev.3").to_string(), "1.0.0+dev.3");
        assert_eq!(v(" v2.1.0-rc.1 ").to_string(), "2.1.0-rc.1");
        for bad in [
            "",
            "v",
            "1..2",
            "1.2.3.4",
            "latest",
            "nightly-20261201",
            "1.x",
            "vv1",
        ] {
            assert!(parse_tolerant(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ordering_is_numeric_not_textual() {
        let (ordered, skipped) = order(
            vec![
                "0.283.0",
                "0.99.1",
                "270.12",
                "270.9",
                "nightly",
                "0.283.0-rc.2",
                "1.406",
            ],
            |s| s,
        );
        let texts: Vec<&str> = ordered.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            texts,
            [
                "0.99.1",
                "0.283.0-rc.2",
                "0.283.0",
                "1.406",
                "270.9",
                "270.12"
            ]
        );
        assert_eq!(skipped, ["nightly"]);
    }

    #[test]
    fn families() {
        let f = Family::parse("source.version_family", "1.406")
            .unwrap()
            .unwrap();
        assert!(f.contains(&v("1.406")) && f.contains(&v("1.406.7")));
        assert!(!f.contains(&v("1.407")) && !f.contains(&v("1.405.9")));
        let f = Family::parse("f", "621").unwrap().unwrap();
        assert!(f.contains(&v("621.5")) && !f.contains(&v("622")));
        let f = Family::parse("f", "0.283.0").unwrap().unwrap();
        assert!(f.contains(&v("0.283.0")) && f.contains(&v("0.283.0+b")));
        assert!(!f.contains(&v("0.283.1")));
        assert_eq!(Family::parse("f", "latest").unwrap(), None);
        assert_eq!(Family::parse("f", " ").unwrap(), None);
        for bad in ["1.x", "1.2.3.4", "v1", "1..2"] {
            let e = Family::parse("source.version_family", bad).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.version_family: ")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn filters() {
        let f = Filter::new("fam", Some("0.283"), "re", Some(r"0\.283\.[0-9]+")).unwrap();
        assert!(f.accepts("0.283.1", &v("0.283.1")));
        assert!(!f.accepts("0.284.0", &v("0.284.0")));
        // The regexp is anchored.
        let f = Filter::new("fam", None, "re", Some("1")).unwrap();
        assert!(!f.accepts("1.1", &v("1.1")) && f.accepts("1", &v("1")));
        assert_eq!(Filter::default().describe(), "no filter");
        let e = Filter::new("fam", None, "source.regexp", Some("(")).unwrap_err();
        assert!(matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.regexp: `(`")));
    }

    #[test]
    fn since_follows_the_contract() {
        let list = [1, 2, 3, 4];
        assert_eq!(since(&list, Some(1)), [2, 3, 4]);
        assert_eq!(since(&list, Some(3)), [4]);
        assert_eq!(since(&list, None), [4]);
        assert_eq!(since(&list, Some(9)), [4]);
        assert!(since::<i32>(&[], None).is_empty());
    }
}
