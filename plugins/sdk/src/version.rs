//! Versions, metadata and what `get`/`put` return.

use std::collections::BTreeMap;
use std::fmt;

use crate::wit;

/// A version of a resource: an order-independent map from field name to value, like
/// Concourse's version map (`{"ref": "abc123"}`).
///
/// Two versions are equal when they hold the same pairs, whatever the order the host sent
/// them in. Names are unique: when a list coming from the host repeats a name, the **last**
/// value wins.
///
/// ```
/// use lockgate_sdk::Version;
///
/// let v = Version::new().with("number", 42).with("branch", "main");
/// assert_eq!(v.get("number"), Some("42"));
/// assert_eq!(v, Version::new().with("branch", "main").with("number", "42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(BTreeMap<String, String>);

impl Version {
    /// An empty version.
    pub fn new() -> Self {
        Self::default()
    }

    /// This version with `name` set to `value` (replacing any previous value).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `name` to `value`, returning the previous value, if any.
    pub fn insert(&mut self, name: impl Into<String>, value: impl ToString) -> Option<String> {
        self.0.insert(name.into(), value.to_string())
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the version holds no pair.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The underlying map, by value.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl fmt::Display for Version {
    /// `{name: value, ...}`, sorted by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        f.write_str("}")
    }
}

impl<K: Into<String>, V: ToString> FromIterator<(K, V)> for Version {
    /// Collects pairs; a repeated name keeps its last value.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.to_string()))
                .collect(),
        )
    }
}

impl IntoIterator for Version {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl From<BTreeMap<String, String>> for Version {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl From<Vec<wit::Pair>> for Version {
    /// Converts the WIT `version` (a `list<pair>`); a repeated name keeps its last value.
    fn from(pairs: Vec<wit::Pair>) -> Self {
        Self(pairs.into_iter().map(|p| (p.name, p.value)).collect())
    }
}

impl From<Version> for Vec<wit::Pair> {
    /// Converts to the WIT `version`, sorted by name.
    fn from(version: Version) -> Self {
        version
            .0
            .into_iter()
            .map(|(name, value)| wit::Pair { name, value })
            .collect()
    }
}

/// Free-form facts about a version (author, size, digest, ...), shown to operators in the
/// order they were added. Names may repeat.
///
/// ```
/// use lockgate_sdk::Metadata;
///
/// let m = Metadata::new().with("size", 1024).with("author", "ci");
/// assert_eq!(m.get("size"), Some("1024"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Metadata(Vec<(String, String)>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// This metadata with one more `name: value` entry at the end.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.push(name, value);
        self
    }

    /// Appends a `name: value` entry.
    pub fn push(&mut self, name: impl Into<String>, value: impl ToString) {
        self.0.push((name.into(), value.to_string()));
    }

    /// The value of the first entry named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: ToString> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.to_string()))
                .collect(),
        )
    }
}

impl IntoIterator for Metadata {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl From<Metadata> for Vec<wit::Pair> {
    /// Converts to the WIT `metadata`, keeping the order.
    fn from(metadata: Metadata) -> Self {
        metadata
            .0
            .into_iter()
            .map(|(name, value)| wit::Pair { name, value })
            .collect()
    }
}

impl From<Vec<wit::Pair>> for Metadata {
    fn from(pairs: Vec<wit::Pair>) -> Self {
        Self(pairs.into_iter().map(|p| (p.name, p.value)).collect())
    }
}

/// A version together with its metadata: what `get` and `put` return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The version fetched or created.
    pub version: Version,
    /// Facts about it.
    pub metadata: Metadata,
}

impl Fetched {
    /// `version` without metadata.
    pub fn new(version: Version) -> Self {
        Self {
            version,
            metadata: Metadata::new(),
        }
    }

    /// This value with one more metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.metadata.push(name, value);
        self
    }
}

impl From<Version> for Fetched {
    fn from(version: Version) -> Self {
        Self::new(version)
    }
}

impl From<Fetched> for wit::Fetched {
    fn from(fetched: Fetched) -> Self {
        Self {
            version: fetched.version.into(),
            metadata: fetched.metadata.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> wit::Pair {
        wit::Pair {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn order_does_not_matter() {
        let a = Version::from(vec![pair("a", "1"), pair("b", "2")]);
        let b = Version::from(vec![pair("b", "2"), pair("a", "1")]);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "{a: 1, b: 2}");
    }

    #[test]
    fn last_duplicate_wins() {
        let v = Version::from(vec![pair("a", "1"), pair("a", "2")]);
        assert_eq!(v.get("a"), Some("2"));
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn round_trip_sorted() {
        let pairs: Vec<wit::Pair> = Version::new().with("z", 1).with("a", 2).into();
        let names: Vec<_> = pairs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "z"]);
    }

    #[test]
    fn metadata_keeps_order() {
        let pairs: Vec<wit::Pair> = Metadata::new().with("z", 1).with("a", 2).into();
        let names: Vec<_> = pairs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["z", "a"]);
    }
}
