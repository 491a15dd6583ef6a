//! "Did you mean …?": the nearest valid name to a misspelt one.

/// The candidate nearest to `name`, if one is near enough to be a likely typo: the same name
/// up to case and `-`/`_`, at most 1 edit away (names of 3 to 5 characters) or 2 edits away
/// (longer names; a transposition counts as one edit), or a name that `name` abbreviates
/// (`prod` for `production`, at least 3 characters).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted = normalize(name);
    let limit = match wanted.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let c = normalize(candidate);
        let distance = if c == wanted {
            0
        } else {
            let d = strsim::damerau_levenshtein(&wanted, &c);
            if d <= limit {
                d
            } else if wanted.chars().count() >= 3 && c.starts_with(&wanted) {
                limit + 1
            } else {
                continue;
            }
        };
        if best.is_none_or(|(b, _)| distance < b) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?`, or `None`.
pub fn help(name: &str, candidates: &[&str]) -> Option<String> {
    did_you_mean(name, candidates.iter().copied()).map(|c| format!("did you mean `{c}`?"))
}

fn normalize(s: &str) -> String {
    s.to_lowercase().replace('-', "_")
}

/// `` `a`, `b` and `c` `` for messages.
pub fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `` `a`, `b` or `c` `` for messages.
pub fn alternatives(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB_KEYS: &[&str] = &["name", "environment", "plan", "serial", "serial_groups"];

    #[test]
    fn typos_find_the_nearest_key() {
        assert_eq!(
            did_you_mean("serial_grups", JOB_KEYS.iter().copied()),
            Some("serial_groups")
        );
        assert_eq!(
            did_you_mean("serial-groups", JOB_KEYS.iter().copied()),
            Some("serial_groups")
        );
        assert_eq!(
            did_you_mean("enviroment", JOB_KEYS.iter().copied()),
            Some("environment")
        );
        assert_eq!(did_you_mean("Plan", JOB_KEYS.iter().copied()), Some("plan"));
        assert_eq!(did_you_mean("pln", JOB_KEYS.iter().copied()), Some("plan"));
        assert_eq!(did_you_mean("gte", ["get", "put"]), Some("get"));
    }

    #[test]
    fn unrelated_names_suggest_nothing() {
        assert_eq!(did_you_mean("colour", JOB_KEYS.iter().copied()), None);
        assert_eq!(did_you_mean("get", ["put", "test"]), None);
        assert_eq!(did_you_mean("x", ["y"]), None);
    }

    #[test]
    fn abbreviations_find_the_full_name() {
        assert_eq!(
            did_you_mean("prod", ["development", "staging", "production"]),
            Some("production")
        );
        assert_eq!(did_you_mean("st", ["staging"]), None);
    }

    #[test]
    fn the_closest_wins() {
        assert_eq!(
            did_you_mean("test-dev", ["test-dx", "test-de"]),
            Some("test-de")
        );
        assert_eq!(help("serial", &["serial"]), None);
        assert_eq!(
            help("seral", &["serial"]).unwrap(),
            "did you mean `serial`?"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(list(&["a"]), "`a`");
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(alternatives(&["a", "b"]), "`a` or `b`");
    }
}
