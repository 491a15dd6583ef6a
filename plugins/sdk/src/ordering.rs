//! The order of versions that are names: semver when every name is (leniently) semver,
//! otherwise a natural order in which runs of digits compare as numbers. What resource types
//! whose versions come from file names, tags or object keys (`artifact-dir`, `s3`, release
//! feeds) use to put their versions oldest first.
//!
//! ```
//! use lockgate_sdk::ordering::sort_names;
//!
//! let mut tags = vec!["v1.10.0", "1.2", "v1.9.1", "1.2.1-rc.1"];
//! assert_eq!(sort_names(&mut tags, |t| t, |t| t), None);
//! assert_eq!(tags, ["1.2", "1.2.1-rc.1", "v1.9.1", "v1.10.0"]);
//! ```

use std::cmp::Ordering;

/// Parses a name as semver, leniently: surrounding spaces and one `v`/`V` prefix are
/// dropped, a core of one or two numbers is padded, leading zeros of the core are ignored;
/// a pre-release or build part is kept. `None` when it is not a version (`nightly-2026`,
/// `1.2.3.4`, `latest`).
///
/// ```
/// use lockgate_sdk::ordering::parse_semver;
///
/// assert_eq!(parse_semver("v1.2").unwrap().to_string(), "1.2.0");
/// assert_eq!(parse_semver("270").unwrap().to_string(), "270.0.0");
/// assert_eq!(parse_semver("1.06").unwrap().to_string(), "1.6.0");
/// assert_eq!(parse_semver("1.2-rc.1").unwrap().to_string(), "1.2.0-rc.1");
/// assert!(parse_semver("nightly-2026").is_none());
/// assert!(parse_semver("1.2.3.4").is_none());
/// ```
pub fn parse_semver(text: &str) -> Option<semver::Version> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    if let Ok(v) = semver::Version::parse(text) {
        return Some(v);
    }
    let split = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut numbers = [0u64; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        *slot = part.parse().ok()?;
    }
    semver::Version::parse(&format!(
        "{}.{}.{}{rest}",
        numbers[0], numbers[1], numbers[2]
    ))
    .ok()
}

/// Natural order: runs of digits compare as numbers (leading zeros aside), the rest as text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (ca, ra) = split_chunk(a);
        let (cb, rb) = split_chunk(b);
        let a_digits = ca.starts_with(|c: char| c.is_ascii_digit());
        let b_digits = cb.starts_with(|c: char| c.is_ascii_digit());
        let ord = if a_digits && b_digits {
            let (ta, tb) = (ca.trim_start_matches('0'), cb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            ca.cmp(cb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        (a, b) = (ra, rb);
    }
}

/// The leading run of digits or of non-digits, and the rest.
fn split_chunk(s: &str) -> (&str, &str) {
    let digits = s.starts_with(|c: char| c.is_ascii_digit());
    let end = s
        .find(|c: char| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Sorts `items` oldest first by the name `version` gives: by semver when every name is
/// (leniently) semver, otherwise all by natural order; ties are broken by `tie` in natural
/// order. Returns the first name that is not semver, if any (why the natural order was used).
pub fn sort_names<T>(
    items: &mut [T],
    version: impl Fn(&T) -> &str,
    tie: impl Fn(&T) -> &str,
) -> Option<String> {
    let odd = items
        .iter()
        .map(&version)
        .find(|v| parse_semver(v).is_none())
        .map(str::to_owned);
    if odd.is_none() {
        items.sort_by(|a, b| {
            let (va, vb) = (parse_semver(version(a)), parse_semver(version(b)));
            va.cmp(&vb).then_with(|| natural_cmp(tie(a), tie(b)))
        });
    } else {
        items.sort_by(|a, b| {
            natural_cmp(version(a), version(b)).then_with(|| natural_cmp(tie(a), tie(b)))
        });
    }
    odd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut list: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        sort_names(&mut list, |n| n, |n| n);
        list
    }

    #[test]
    fn semver_order_with_normalisation() {
        assert_eq!(
            sorted(&["1.10.0", "1.2", "v1.9.1", "1.2.1-rc.1", "1.2.1", "2"]),
            ["1.2", "1.2.1-rc.1", "1.2.1", "v1.9.1", "1.10.0", "2"]
        );
        assert_eq!(parse_semver("1.2"), Some(semver::Version::new(1, 2, 0)));
        assert_eq!(parse_semver("7"), Some(semver::Version::new(7, 0, 0)));
        assert!(parse_semver("1..2").is_none());
        assert!(parse_semver("latest").is_none());
    }

    #[test]
    fn natural_order_fallback() {
        assert_eq!(
            sorted(&["build-10", "build-9", "build-100", "build-09a"]),
            ["build-9", "build-09a", "build-10", "build-100"]
        );
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("a", "a1"), Ordering::Less);
        assert_eq!(natural_cmp("621.5", "621.5"), Ordering::Equal);
    }
}
