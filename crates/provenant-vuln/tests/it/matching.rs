//! Hand-checked matches against real PyPA records (the repository's subset). Each case names the
//! record and the boundary it exercises; the expected sets were worked out
//! by reading the YAML files.

use crate::common::{findings, full_pypa_index, ids, pypa_index, sbom_of};
use provenant_vuln::{Format, Index, Level, ScanOptions, SourceItem, parse_record, scan};

#[test]
fn requests_boundaries() {
    // requests: PYSEC-2014-13/-14 [0, 2.3.0), PYSEC-2015-17 [2.1.0, 2.6.0),
    // PYSEC-2018-28 [0, 2.20.0), PYSEC-2023-74 [2.3.0, 2.31.0).
    assert_eq!(
        ids("pkg:pypi/requests@2.19.0"),
        ["PYSEC-2018-28", "PYSEC-2023-74"]
    );
    // Exactly `fixed` of PYSEC-2018-28: not affected by it.
    assert_eq!(ids("pkg:pypi/requests@2.20.0"), ["PYSEC-2023-74"]);
    // Exactly `fixed` of 2014-13/14 and exactly `introduced` of 2023-74.
    assert_eq!(
        ids("pkg:pypi/requests@2.3.0"),
        ["PYSEC-2015-17", "PYSEC-2018-28", "PYSEC-2023-74"]
    );
    assert_eq!(ids("pkg:pypi/requests@2.31.0"), Vec::<String>::new());
    // A pre-release of the fixing version is still below it.
    assert_eq!(ids("pkg:pypi/requests@2.31.0rc1"), ["PYSEC-2023-74"]);
    // PEP 440 equality: 2.20 == 2.20.0; PEP 503 name normalisation.
    assert_eq!(ids("pkg:pypi/Requests@2.20"), ["PYSEC-2023-74"]);
}

#[test]
fn last_affected_is_inclusive_on_real_data() {
    // py PYSEC-2022-42969: introduced 0, last_affected 1.11.0.
    assert_eq!(ids("pkg:pypi/py@1.11.0"), ["PYSEC-2022-42969"]);
    assert_eq!(ids("pkg:pypi/py@1.11.0.post1"), Vec::<String>::new());
    assert_eq!(ids("pkg:pypi/py@1.11.1"), Vec::<String>::new());
    assert_eq!(ids("pkg:pypi/py@1.11.1.dev0"), Vec::<String>::new());
    let all = findings("pkg:pypi/py@1.4.0");
    let f = all.iter().find(|f| f.id == "PYSEC-2022-42969").unwrap();
    assert!(f.fixed_versions.is_empty(), "last_affected gives no fix");
}

#[test]
fn post_releases_on_real_data() {
    // label-studio PYSEC-2022-300: introduced 0, fixed 1.5.0.post0.
    assert_eq!(ids("pkg:pypi/label-studio@1.5.0"), ["PYSEC-2022-300"]);
    assert_eq!(
        ids("pkg:pypi/label-studio@1.5.0.post0"),
        Vec::<String>::new()
    );
    assert_eq!(
        ids("pkg:pypi/label-studio@1.5.0-0"),
        Vec::<String>::new(),
        "1.5.0-0 is 1.5.0.post0"
    );
    assert_eq!(
        ids("pkg:pypi/label-studio@1.5.0.post1"),
        Vec::<String>::new()
    );
    // beaker PYSEC-2012-1: fixed 1.6.5.post1 (its GIT range is ignored);
    // PYSEC-2020-216: introduced 0, never fixed.
    assert_eq!(
        ids("pkg:pypi/beaker@1.6.5"),
        ["PYSEC-2012-1", "PYSEC-2020-216"]
    );
    assert_eq!(ids("pkg:pypi/beaker@1.6.5.post1"), ["PYSEC-2020-216"]);
    assert_eq!(ids("pkg:pypi/beaker@99"), ["PYSEC-2020-216"]);
    let f = findings("pkg:pypi/beaker@1.6.4");
    assert_eq!(
        f.iter()
            .find(|f| f.id == "PYSEC-2012-1")
            .unwrap()
            .fixed_versions,
        ["1.6.5.post1"]
    );
    assert!(
        f.iter()
            .find(|f| f.id == "PYSEC-2020-216")
            .unwrap()
            .fixed_versions
            .is_empty()
    );
}

#[test]
fn pre_releases_on_real_data() {
    // invenio-previewer PYSEC-2019-26: introduced 0, fixed 1.0.0a12.
    assert_eq!(
        ids("pkg:pypi/invenio-previewer@1.0.0a11"),
        ["PYSEC-2019-26"]
    );
    assert_eq!(
        ids("pkg:pypi/invenio-previewer@1.0.0a12"),
        Vec::<String>::new()
    );
    assert_eq!(
        ids("pkg:pypi/invenio-previewer@1.0.0"),
        Vec::<String>::new()
    );
    // A dev release of 1.0.0 sorts before 1.0.0a12.
    assert_eq!(
        ids("pkg:pypi/invenio-previewer@1.0.0.dev3"),
        ["PYSEC-2019-26"]
    );
    assert_eq!(
        ids("pkg:pypi/invenio_previewer@1.0.0a12.dev1"),
        ["PYSEC-2019-26"]
    );
    let f = &findings("pkg:pypi/invenio-previewer@1.0.0a2")[0];
    assert_eq!(f.aliases, ["CVE-2019-1020019", "GHSA-j9m2-6hq2-4r3c"]);
}

#[test]
fn epochs_on_real_data() {
    // An epoch outranks every version without one: 1!0.1 > fixed 1.5.0.post0.
    assert_eq!(ids("pkg:pypi/label-studio@1!0.1"), Vec::<String>::new());
    // Epoch 0 is the implicit epoch: 0!1.5.0 is 1.5.0.
    assert_eq!(ids("pkg:pypi/label-studio@0!1.5.0"), ["PYSEC-2022-300"]);
}

#[test]
fn withdrawn_records_are_not_imported_or_matched() {
    // redis PYSEC-2023-73 is withdrawn; it lists 2.10.0 as affected.
    assert!(pypa_index().get("PYSEC-2023-73").is_none());
    assert!(!ids("pkg:pypi/redis@2.10.0").contains(&"PYSEC-2023-73".to_string()));
}

fn index_of(jsons: &[&str]) -> Index {
    let mut idx = Index::new();
    let items = jsons
        .iter()
        .enumerate()
        .map(|(i, j)| SourceItem {
            file: format!("{i}.json"),
            result: parse_record(j.as_bytes(), Format::Json),
        })
        .collect();
    let r = idx.import_items("test", items);
    assert!(r.issues.is_empty(), "{:?}", r.issues);
    idx
}

#[test]
fn limit_events() {
    // A real record (requests PYSEC-2023-74) with a limit added: versions at
    // or above the limit are outside the range even though the fix is later.
    let idx = index_of(
        &[r#"{"id":"PYSEC-2023-74","modified":"2023-06-05T00:00:00Z",
        "affected":[{"package":{"ecosystem":"PyPI","name":"requests"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.3.0"},{"fixed":"2.31.0"},{"limit":"2.25.0"}]}]}]}"#],
    );
    let hit = |v: &str| {
        !scan(
            &idx,
            &sbom_of(&[&format!("pkg:pypi/requests@{v}")]),
            &ScanOptions::default(),
        )
        .findings
        .is_empty()
    };
    assert!(hit("2.24.0"));
    assert!(!hit("2.25.0"), "exactly the limit");
    assert!(!hit("2.30.0"));
    assert!(!hit("2.2.0"));
}

#[test]
fn aliases_merge_into_one_finding_with_the_highest_severity() {
    // A GHSA-style record (another source) aliasing a real PYSEC record.
    let ghsa = r#"{"id":"GHSA-j8r2-6x86-q33q","modified":"2023-06-01T00:00:00Z",
        "aliases":["CVE-2023-32681"],
        "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
        "affected":[{"package":{"ecosystem":"PyPI","name":"requests"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.3.0"},{"fixed":"2.31.0"}]}]}]}"#;
    let mut idx = pypa_index().clone();
    idx.import_items(
        "ghsa",
        vec![SourceItem {
            file: "g.json".into(),
            result: parse_record(ghsa.as_bytes(), Format::Json),
        }],
    );
    let r = scan(
        &idx,
        &sbom_of(&["pkg:pypi/requests@2.30.0"]),
        &ScanOptions::default(),
    );
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.id, "GHSA-j8r2-6x86-q33q");
    assert_eq!(f.aliases, ["CVE-2023-32681", "PYSEC-2023-74"]);
    assert_eq!(f.severity.level, Level::Medium);
    assert_eq!(f.severity.score, Some(6.1));
    assert_eq!(f.fixed_versions, ["2.31.0"]);
}

#[test]
fn unparsable_versions_warn_with_the_record() {
    let idx = index_of(&[r#"{"id":"OSV-BAD-1","modified":"2023-06-05T00:00:00Z",
        "affected":[{"package":{"ecosystem":"PyPI","name":"pkg"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"not.a.version!"}]},
                  {"type":"WEIRD","events":[{"introduced":"0"}]}]}]}"#]);
    let r = scan(
        &idx,
        &sbom_of(&["pkg:pypi/pkg@1.0"]),
        &ScanOptions::default(),
    );
    assert!(r.findings.is_empty());
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("OSV-BAD-1 affected[0].ranges[0]") && w.contains("unparsable")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("OSV-BAD-1") && w.contains("WEIRD")),
        "{:?}",
        r.warnings
    );
    let r = scan(
        &idx,
        &sbom_of(&["pkg:pypi/pkg@latest-and-greatest"]),
        &ScanOptions::default(),
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("installed version unusable")),
        "{:?}",
        r.warnings
    );
}

/// Each version a record lists is matched by that record (the versions list
/// is authoritative); every `step`th version of each list is checked.
/// Returns how many were checked.
fn check_listed_versions(idx: &Index, step: usize) -> usize {
    let mut checked = 0;
    for e in idx.entries() {
        for a in &e.record.affected {
            let Some(p) = &a.package else { continue };
            for v in a.versions.iter().step_by(step) {
                let purl = format!("pkg:pypi/{}@{}", p.name, v.replace('+', "%2B"));
                let r = scan(idx, &sbom_of(&[&purl]), &ScanOptions::default());
                assert!(
                    r.findings
                        .iter()
                        .any(|f| f.id == e.record.id || f.aliases.contains(&e.record.id)),
                    "{purl} should match {}",
                    e.record.id
                );
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn every_listed_pypa_version_is_affected_by_its_record() {
    // Every listed version of the repository's subset.
    let checked = check_listed_versions(pypa_index(), 1);
    assert_eq!(checked, SUBSET_LISTED_VERSIONS);
}

/// Listed versions over all records of the repository's subset.
const SUBSET_LISTED_VERSIONS: usize = 1671;

#[test]
fn every_listed_version_of_the_full_database_is_affected_by_its_record() {
    let Some(idx) =
        full_pypa_index("every_listed_version_of_the_full_database_is_affected_by_its_record")
    else {
        return;
    };
    // Sampled to keep the test fast.
    let checked = check_listed_versions(idx, 67);
    assert!(checked > 700, "{checked}");
}
