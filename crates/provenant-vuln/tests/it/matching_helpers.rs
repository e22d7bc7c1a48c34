//! Small made-up databases for severity and gate tests.

use provenant_vuln::{Format, Index, SourceItem, parse_record};

/// `a@1.0` has a critical CVSS v3.1 advisory, `b@1.0` a GitHub-rated
/// moderate one with a CVSS v4 vector.
pub fn rated_index() -> Index {
    let recs = [
        r#"{"id":"CRIT-1","modified":"2024-01-01T00:00:00Z",
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}]}"#,
        r#"{"id":"MED-1","modified":"2024-01-01T00:00:00Z",
            "severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}],
            "database_specific":{"severity":"MODERATE"},
            "affected":[{"package":{"ecosystem":"PyPI","name":"b"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
    ];
    let mut idx = Index::new();
    let items = recs
        .iter()
        .map(|r| SourceItem {
            file: "x.json".into(),
            result: parse_record(r.as_bytes(), Format::Json),
        })
        .collect();
    let rep = idx.import_items("rated", items);
    assert!(rep.issues.is_empty(), "{:?}", rep.issues);
    idx
}
