//! Which tags are versions (`tag_regex`, `semver_constraint`, `pre_releases`) and their
//! order; the `Link` header of paginated tag lists.

use lockgate_sdk::ordering::{parse_semver, sort_names};
use regex::Regex;
use semver::VersionReq;

/// The tags of a repository that are versions, and their order.
#[derive(Debug)]
pub struct Filter {
    /// `tag_regex`, anchored.
    pub regex: Option<Regex>,
    /// `semver_constraint`: only tags that are (leniently) semver and satisfy it.
    pub constraint: Option<VersionReq>,
    /// Whether semver pre-releases (`1.2.0-rc.1`) count.
    pub pre_releases: bool,
}

impl Filter {
    /// Builds the filter; errors name the field.
    pub fn new(
        regex: Option<&str>,
        constraint: Option<&str>,
        pre_releases: bool,
    ) -> Result<Self, String> {
        let regex = regex
            .map(|r| {
                Regex::new(&format!("^(?:{r})$"))
                    .map_err(|e| format!("source.tag_regex: `{r}` is not a valid regexp: {e}"))
            })
            .transpose()?;
        let constraint = constraint
            .map(|c| {
                VersionReq::parse(c).map_err(|e| {
                    format!(
                        "source.semver_constraint: `{c}` is not a semver constraint ({e}); e.g. `>=1.2, <2`"
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            regex,
            constraint,
            pre_releases,
        })
    }

    /// Whether `tag` is a version.
    fn accepts(&self, tag: &str) -> bool {
        if self.regex.as_ref().is_some_and(|r| !r.is_match(tag)) {
            return false;
        }
        let version = parse_semver(tag);
        if let Some(v) = &version
            && !v.pre.is_empty()
            && !self.pre_releases
        {
            return false;
        }
        match (&self.constraint, version) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(req), Some(v)) => {
                req.matches(&v)
                    || (self.pre_releases && !v.pre.is_empty() && {
                        let mut release = v.clone();
                        release.pre = semver::Prerelease::EMPTY;
                        req.matches(&release)
                    })
            }
        }
    }

    /// The tags that are versions, oldest first: by semver when every one is (leniently)
    /// semver, otherwise by natural order (runs of digits as numbers); ties by name. Returns
    /// them and the first tag that made the order natural, if any.
    pub fn versions(&self, tags: &[String]) -> (Vec<String>, Option<String>) {
        let mut kept: Vec<String> = tags.iter().filter(|t| self.accepts(t)).cloned().collect();
        kept.sort();
        kept.dedup();
        let odd = sort_names(&mut kept, |t| t, |t| t);
        (kept, odd)
    }
}

/// The target of the `rel="next"` link of a `Link` header, if any.
pub fn next_link(header: &str) -> Option<&str> {
    for link in header.split(',') {
        let link = link.trim();
        let Some(rest) = link.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.split_once('=').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_string()).collect()
    }

    fn versions(filter: Filter, list: &[&str]) -> Vec<String> {
        filter.versions(&tags(list)).0
    }

    const ALL: &[&str] = &[
        "latest",
        "1.10.0",
        "1.2.0",
        "v1.9.1",
        "2.0.0-rc.1",
        "2.0.0",
        "1.2.0-rc.1",
        "main-42",
    ];

    #[test]
    fn semver_constraint_keeps_semver_tags_in_order() {
        let f = Filter::new(None, Some(">=1.2, <2"), false).unwrap();
        assert_eq!(versions(f, ALL), ["1.2.0", "v1.9.1", "1.10.0"]);
        let f = Filter::new(None, Some(">=1.2"), true).unwrap();
        assert_eq!(
            versions(f, ALL),
            [
                "1.2.0-rc.1",
                "1.2.0",
                "v1.9.1",
                "1.10.0",
                "2.0.0-rc.1",
                "2.0.0"
            ]
        );
        let f = Filter::new(None, Some("^2.0.0-rc.1"), false).unwrap();
        assert_eq!(versions(f, ALL), ["2.0.0"]);
    }

    #[test]
    fn tag_regex_alone() {
        let f = Filter::new(Some(r"v?\d+\.\d+\.\d+"), None, false).unwrap();
        assert_eq!(versions(f, ALL), ["1.2.0", "v1.9.1", "1.10.0", "2.0.0"]);
        // Anchored: `1` alone matches no tag above.
        let f = Filter::new(Some("1"), None, false).unwrap();
        assert!(versions(f, ALL).is_empty());
        // Tags that are not semver: natural order, and the culprit named.
        let f = Filter::new(Some(r"main-\d+|1\.2\.0"), None, false).unwrap();
        let (list, odd) = f.versions(&tags(&["main-100", "main-42", "1.2.0", "main-9"]));
        assert_eq!(list, ["1.2.0", "main-9", "main-42", "main-100"]);
        assert_eq!(odd.as_deref(), Some("main-100"));
    }

    #[test]
    fn both_filters_and_bad_ones() {
        let f = Filter::new(Some(r"v.*"), Some("1"), false).unwrap();
        assert_eq!(versions(f, ALL), ["v1.9.1"]);
        assert!(
            Filter::new(Some("("), None, false)
                .unwrap_err()
                .starts_with("source.tag_regex: `(` is not a valid regexp")
        );
        assert!(
            Filter::new(None, Some("~>1"), false)
                .unwrap_err()
                .starts_with("source.semver_constraint: `~>1` is not a semver constraint")
        );
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/b/tags/list?last=1.2.0&n=2>; rel="next""#),
            Some("/v2/a/b/tags/list?last=1.2.0&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/prev>; rel="prev", <https://r/next?n=2>; rel=next"#),
            Some("https://r/next?n=2")
        );
        assert_eq!(next_link(r#"<https://r/x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
