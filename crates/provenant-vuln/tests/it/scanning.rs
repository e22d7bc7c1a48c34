//! End to end: SBOM in, findings out, with VEX, waivers, renderers and the gate.

use crate::common::{parse_sbom, pypa_index};
use provenant_vuln::{
    Date, Level, ScanOptions, SuppressedBy, parse_vex, parse_waivers, render_json, render_sarif,
    render_table, scan,
};

const CDX: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.6",
  "metadata": {"component": {"type": "machine-learning-model", "name": "anomaly-detector", "purl": "pkg:generic/aiops/anomaly-detector@7"}},
  "components": [
    {"type": "library", "name": "requests", "version": "2.19.0", "purl": "pkg:pypi/requests@2.19.0"},
    {"type": "library", "name": "py", "version": "1.11.0", "purl": "pkg:pypi/py@1.11.0"},
    {"type": "library", "name": "numpy", "version": "99.0", "purl": "pkg:pypi/numpy@99.0"},
    {"type": "library", "name": "requests", "version": "2.19.0", "purl": "pkg:pypi/requests@2.19.0"},
    {"type": "library", "name": "guava", "version": "31.0", "purl": "pkg:maven/com.google/guava@31.0"},
    {"type": "library", "name": "nopurl", "version": "1.0"}
  ]}"#;

const SPDX: &str = r#"{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "m",
  "dataLicense": "CC0-1.0", "documentNamespace": "https://example.com/m",
  "documentDescribes": ["SPDXRef-model"],
  "packages": [
    {"name": "model", "SPDXID": "SPDXRef-model", "versionInfo": "7"},
    {"name": "requests", "SPDXID": "SPDXRef-p1", "versionInfo": "2.19.0",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/requests@2.19.0"}]},
    {"name": "py", "SPDXID": "SPDXRef-p2", "versionInfo": "1.11.0",
     "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/py@1.11.0"}]}
  ]}"#;

fn day(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[test]
fn cyclonedx_and_spdx_give_the_same_findings() {
    let a = scan(
        pypa_index(),
        &parse_sbom(CDX.as_bytes(), "bom.json").unwrap(),
        &ScanOptions::default(),
    );
    let b = scan(
        pypa_index(),
        &parse_sbom(SPDX.as_bytes(), "spdx.json").unwrap(),
        &ScanOptions::default(),
    );
    let key = |r: &provenant_vuln::ScanReport| {
        let mut v: Vec<_> = r
            .findings
            .iter()
            .map(|f| (f.id.clone(), f.purl.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&a), key(&b));
    assert_eq!(
        key(&a),
        [
            (
                "PYSEC-2018-28".to_string(),
                "pkg:pypi/requests@2.19.0".to_string()
            ),
            ("PYSEC-2022-42969".into(), "pkg:pypi/py@1.11.0".into()),
            ("PYSEC-2023-74".into(), "pkg:pypi/requests@2.19.0".into()),
        ]
    );
    // Duplicates collapse; maven has no mapping; the purl-less component is named.
    assert_eq!(a.components, 4);
    assert!(
        a.warnings.iter().any(|w| w.contains("\"maven\"")),
        "{:?}",
        a.warnings
    );
    assert!(
        a.warnings.iter().any(|w| w.contains("nopurl")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn json_findings_carry_the_required_fields() {
    let r = scan(
        pypa_index(),
        &parse_sbom(CDX.as_bytes(), "bom.json").unwrap(),
        &ScanOptions::default(),
    );
    let v: serde_json::Value = serde_json::from_str(&render_json(&r).unwrap()).unwrap();
    assert_eq!(v["schema"], "provenant.scan/v1");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "PYSEC-2018-28")
        .unwrap();
    assert_eq!(
        f["aliases"],
        serde_json::json!(["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"])
    );
    assert_eq!(f["purl"], "pkg:pypi/requests@2.19.0");
    assert_eq!(f["installed_version"], "2.19.0");
    assert_eq!(f["fixed_versions"], serde_json::json!(["2.20.0"]));
    assert_eq!(f["severity"]["level"], "unknown");
    assert_eq!(f["suppressed"], false);
    assert_eq!(v["summary"]["unsuppressed"], 3);
}

#[test]
fn waivers_suppress_until_they_expire() {
    let sbom = parse_sbom(CDX.as_bytes(), "bom.json").unwrap();
    // Waive by alias (CVE) with a version pattern.
    let w = parse_waivers(
        b"waivers:\n- id: CVE-2018-18074\n  purl: pkg:pypi/requests@2.*\n  reason: proxies never used\n  approver: alice@example.com\n  expires: 2026-03-31\n",
        "waivers.yaml",
    )
    .unwrap();
    let before = scan(
        pypa_index(),
        &sbom,
        &ScanOptions {
            today: day("2026-03-31"),
            vex: &[],
            waivers: Some(&w),
        },
    );
    let f = before
        .findings
        .iter()
        .find(|f| f.id == "PYSEC-2018-28")
        .unwrap();
    assert!(f.suppressed);
    assert_eq!(f.suppressed_by, Some(SuppressedBy::Waiver));
    let reason = f.suppressed_reason.as_deref().unwrap();
    assert!(
        reason.contains("proxies never used")
            && reason.contains("alice@example.com")
            && reason.contains("2026-03-31"),
        "{reason}"
    );
    // The other requests advisory is not covered by this waiver.
    assert!(
        !before
            .findings
            .iter()
            .find(|f| f.id == "PYSEC-2023-74")
            .unwrap()
            .suppressed
    );

    let after = scan(
        pypa_index(),
        &sbom,
        &ScanOptions {
            today: day("2026-04-01"),
            vex: &[],
            waivers: Some(&w),
        },
    );
    let f = after
        .findings
        .iter()
        .find(|f| f.id == "PYSEC-2018-28")
        .unwrap();
    assert!(!f.suppressed);
    assert!(
        f.notes.iter().any(|n| n.contains("expired on 2026-03-31")),
        "{:?}",
        f.notes
    );
    assert!(render_table(&after).contains("expired on 2026-03-31"));
}

#[test]
fn vex_statements_suppress_annotate_and_warn() {
    let sbom = parse_sbom(CDX.as_bytes(), "bom.json").unwrap();
    let vex = parse_vex(
        br#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/7",
        "author": "secops", "timestamp": "2024-05-01T00:00:00Z", "version": 1,
        "statements": [
          {"vulnerability": {"name": "CVE-2023-32681"}, "products": [{"@id": "pkg:pypi/requests@2.19.0"}],
           "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
           "impact_statement": "no proxy configuration is ever passed"},
          {"vulnerability": {"name": "PYSEC-2022-42969"},
           "products": [{"@id": "pkg:generic/aiops/anomaly-detector@7", "subcomponents": [{"@id": "pkg:pypi/py"}]}],
           "status": "under_investigation"},
          {"vulnerability": {"name": "PYSEC-2022-42969"}, "products": [{"@id": "pkg:pypi/py"}],
           "status": "affected", "action_statement": "upgrade to pytest>=7.2", "timestamp": "2024-06-01T00:00:00Z"},
          {"vulnerability": {"name": "CVE-2099-0001"}, "products": [{"@id": "pkg:pypi/tensorflow@2.0.0"}],
           "status": "not_affected", "justification": "component_not_present"}
        ]}"#,
        "model.vex.json",
    )
    .unwrap();
    let r = scan(
        pypa_index(),
        &sbom,
        &ScanOptions {
            vex: std::slice::from_ref(&vex),
            ..ScanOptions::default()
        },
    );
    let f = r.findings.iter().find(|f| f.id == "PYSEC-2023-74").unwrap();
    assert!(f.suppressed);
    assert_eq!(f.suppressed_by, Some(SuppressedBy::Vex));
    assert!(
        f.suppressed_reason
            .as_deref()
            .unwrap()
            .contains("vulnerable_code_not_in_execute_path")
    );
    // The later `affected` statement supersedes `under_investigation`.
    let py = r
        .findings
        .iter()
        .find(|f| f.id == "PYSEC-2022-42969")
        .unwrap();
    assert!(!py.suppressed);
    assert_eq!(py.vex_status, Some("affected"));
    assert!(py.notes[0].contains("upgrade to pytest"));
    // tensorflow is not in the SBOM.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("pkg:pypi/tensorflow@2.0.0") && w.contains("not in the SBOM")),
        "{:?}",
        r.warnings
    );
    // Suppressed findings sort last.
    assert!(r.findings.last().unwrap().suppressed);
}

#[test]
fn gate_exit_semantics() {
    let sbom = parse_sbom(CDX.as_bytes(), "bom.json").unwrap();
    let r = scan(pypa_index(), &sbom, &ScanOptions::default());
    // All three PyPA findings have no CVSS: unknown fails closed...
    assert!(r.fail_on(Level::Critical));
    // ...unless the caller opts out.
    assert!(!r.fail_on_with(Level::Critical, false));
    let clean = scan(pypa_index(), &parse_sbom(br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"requests","purl":"pkg:pypi/requests@2.31.0"}]}"#, "b").unwrap(), &ScanOptions::default());
    assert!(!clean.fail_on(Level::Low));

    // Rated findings: waive everything except the medium one.
    let rated = crate::matching_helpers::rated_index();
    let two = parse_sbom(
        br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
        {"type":"library","name":"a","purl":"pkg:pypi/a@1.0"},{"type":"library","name":"b","purl":"pkg:pypi/b@1.0"}]}"#,
        "b",
    )
    .unwrap();
    let r = scan(&rated, &two, &ScanOptions::default());
    assert_eq!(r.findings[0].severity.level, Level::Critical);
    assert!(r.fail_on(Level::High));
    let w = parse_waivers(b"waivers:\n- id: CRIT-1\n  purl: pkg:pypi/a\n  reason: r\n  approver: x\n  expires: 2999-01-01\n", "w").unwrap();
    let r = scan(
        &rated,
        &two,
        &ScanOptions {
            waivers: Some(&w),
            ..ScanOptions::default()
        },
    );
    assert!(
        !r.fail_on(Level::High),
        "critical is waived, medium is below high"
    );
    assert!(r.fail_on(Level::Medium));
    assert!("HIGH".parse::<Level>().is_ok() && "urgent".parse::<Level>().is_err());
}

#[test]
fn sarif_output_is_a_valid_shape() {
    let sbom = parse_sbom(CDX.as_bytes(), "bom.json").unwrap();
    let w = parse_waivers(b"waivers:\n- id: PYSEC-2018-28\n  purl: pkg:pypi/requests\n  reason: accepted risk\n  approver: bob\n  expires: 2999-12-31\n", "w").unwrap();
    let r = scan(
        pypa_index(),
        &sbom,
        &ScanOptions {
            waivers: Some(&w),
            ..ScanOptions::default()
        },
    );
    let v: serde_json::Value =
        serde_json::from_str(&render_sarif(&r, "bom.json").unwrap()).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], res["ruleId"]);
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
        assert_eq!(
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "bom.json"
        );
    }
    let waived = results
        .iter()
        .find(|r| r["ruleId"] == "PYSEC-2018-28")
        .unwrap();
    assert_eq!(waived["suppressions"][0]["kind"], "external");
    assert!(
        waived["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("accepted risk")
    );
}

#[test]
fn debian_records_against_this_machines_dpkg_versions() {
    use provenant_sbom::{Component, Sbom};
    use provenant_vuln::{Format, Index, SourceItem, parse_record};
    let Ok(status) = std::fs::read_to_string("/var/lib/dpkg/status") else {
        return provenant_testkit::skip("/var/lib/dpkg/status is missing (not a Debian system)");
    };
    // The installed version of the `dpkg` package itself.
    let installed = status
        .split("\n\n")
        .find(|s| s.lines().any(|l| l == "Package: dpkg"))
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Version: ")))
        .unwrap()
        .to_string();
    let record = |id: &str, eco: &str, fixed: &str| {
        format!(
            r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2099-{id}"],
            "affected":[{{"package":{{"ecosystem":"{eco}","name":"dpkg"}},
            "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
        )
    };
    let recs = [
        record("EXACT", "Debian:12", &installed), // exactly fixed: not affected
        record("ABOVE", "Debian:12", &format!("{installed}+deb1")), // fixed later: affected
        record("TILDE", "Debian:12", &format!("{installed}~1")), // ~ sorts before: not affected
        record("OTHER", "Debian:11", &format!("{installed}+deb1")), // other release
    ];
    let mut idx = Index::new();
    idx.import_items(
        "deb",
        recs.iter()
            .map(|r| SourceItem {
                file: "r.json".into(),
                result: parse_record(r.as_bytes(), Format::Json),
            })
            .collect(),
    );
    let scan_with = |purl: String| {
        let sbom = Sbom {
            components: vec![Component::from_purl(&purl).unwrap()],
            ..Sbom::default()
        };
        let mut ids: Vec<String> = scan(&idx, &sbom, &ScanOptions::default())
            .findings
            .into_iter()
            .map(|f| f.id)
            .collect();
        ids.sort();
        ids
    };
    let v = installed.replace(':', "%3A").replace('+', "%2B");
    assert_eq!(
        scan_with(format!("pkg:deb/debian/dpkg@{v}?distro=debian-12")),
        ["ABOVE"]
    );
    assert_eq!(
        scan_with(format!("pkg:deb/debian/dpkg@{v}")),
        ["ABOVE", "OTHER"]
    );
}
