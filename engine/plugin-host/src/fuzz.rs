//! A fuzz target over the conversion of plugin results (see `fuzz/` and `tests/fuzz`): what a
//! component hands back through the WIT (versions, metadata, error messages, test reports) goes
//! through the
//! same checks as in [`crate::Plugin`], from arbitrary bytes.

use super::bindings::types as wit;
use super::plugin::{
    Fields, check_fetched, check_fields, check_report, cut_message, fetched_from_wit,
    report_from_wit,
};
use lockgate_model::{Limits, Version};

/// Decodes `data` into versions (records separated by `0x00`, pairs by `0x01`, name and value
/// by `0x02`) and runs them through the result checks under the default limits and tiny ones.
/// Panics when a check lets through what it must refuse.
pub fn plugin_results(data: &[u8]) {
    let versions: Vec<Vec<wit::Pair>> = data
        .split(|&b| b == 0)
        .map(|record| {
            record
                .split(|&b| b == 1)
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let mut parts = pair.splitn(2, |&b| b == 2);
                    let name = String::from_utf8_lossy(parts.next().unwrap_or_default());
                    let value = String::from_utf8_lossy(parts.next().unwrap_or_default());
                    wit::Pair {
                        name: name.into_owned(),
                        value: value.into_owned(),
                    }
                })
                .collect()
        })
        .collect();
    let tiny = Limits {
        version_fields: 3,
        metadata_entries: 2,
        field_bytes: 16,
        message_bytes: 8,
        report_cases: 5,
        report_bytes: 32,
        ..Limits::default()
    };
    for limits in [Limits::default(), tiny] {
        for pairs in &versions {
            if check_fields(pairs, &limits, Fields::Version, "a version").is_ok() {
                assert!(pairs.len() <= limits.version_fields);
                assert!(
                    pairs
                        .iter()
                        .all(|p| p.name.len() + p.value.len() <= limits.field_bytes)
                );
                if let Ok(v) =
                    Version::from_pairs(pairs.iter().map(|p| (p.name.clone(), p.value.clone())))
                {
                    let json = serde_json::to_string(&v).expect("a version serializes");
                    let back: Version = serde_json::from_str(&json).expect("and reads back");
                    assert_eq!(back, v, "a version survives its JSON form");
                }
            }
        }
        let fetched = wit::Fetched {
            version: versions.first().cloned().unwrap_or_default(),
            metadata: versions.get(1).cloned().unwrap_or_default(),
        };
        if check_fetched(&fetched, &limits).is_ok() {
            let _ = fetched_from_wit(fetched);
        }
        // The same records as a report: each a suite, its pairs cases (name, message).
        let report = wit::TestReport {
            suites: versions
                .iter()
                .enumerate()
                .map(|(i, pairs)| wit::TestSuite {
                    name: format!("suite {i}"),
                    cases: pairs
                        .iter()
                        .map(|p| wit::TestCase {
                            name: p.name.clone(),
                            status: wit::CaseStatus::Failed,
                            duration_ms: 0,
                            message: Some(p.value.clone()),
                        })
                        .collect(),
                })
                .collect(),
        };
        if check_report(&report, &limits).is_ok() {
            let report = report_from_wit(report);
            let rows: usize = report.suites.iter().map(|s| 1 + s.cases.len()).sum();
            assert!(rows <= limits.report_cases);
            let json = serde_json::to_string(&report).expect("a report serializes");
            assert!(json.len() <= limits.report_bytes * 6 + rows * 96 + 64);
        }
        let message = String::from_utf8_lossy(data).into_owned();
        let cut = cut_message(message.clone(), limits.message_bytes);
        if message.len() <= limits.message_bytes {
            assert_eq!(cut, message);
        } else {
            assert!(cut.starts_with(&message[..message.floor_char_boundary(limits.message_bytes)]));
            assert!(cut.len() < message.len() + 40);
        }
    }
}
