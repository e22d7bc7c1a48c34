//! Importing real PyPA advisories (the repository's subset; the whole
//! database when `PROVENANT_PYPA_DIR` is set): counts, re-import semantics, zip
//! exports, malformed records, persistence.

use std::io::Write;
use std::path::Path;

use crate::common::{copy_packages, full_pypa_dir, full_pypa_index, pypa_dir, pypa_index};
use provenant_vuln::{Format, Index, IndexEntry, VulnError, parse_record};

/// Imports `dir` twice into a fresh index: the first import adds `added`
/// records and drops `withdrawn` ones; the second changes nothing.
fn assert_import_counts(dir: &Path, added: usize, withdrawn: usize) {
    let mut index = Index::new();
    let r = index.import(dir).unwrap();
    assert_eq!(r.added, added, "{r}");
    assert_eq!(r.withdrawn, withdrawn, "{r}");
    assert_eq!((r.updated, r.removed, r.unchanged), (0, 0, 0));
    assert_eq!(
        r.skipped, withdrawn,
        "only withdrawn records are skipped: {r}"
    );
    assert!(r.issues.is_empty(), "{:?}", r.issues);
    assert_eq!(index.len(), added);
    // Importing the same content again changes nothing.
    let again = index.import(dir).unwrap();
    assert_eq!(
        (again.added, again.updated, again.removed, again.unchanged),
        (0, 0, 0, added)
    );
}

#[test]
fn pypa_subset_import_counts() {
    // 33 YAML files (testdata/osv-pypa/README.md); redis PYSEC-2023-73 is withdrawn.
    assert_import_counts(&pypa_dir(), 32, 1);
}

#[test]
fn full_pypa_import_counts() {
    let Some(dir) = full_pypa_dir("full_pypa_import_counts") else {
        return;
    };
    // 2,661 YAML files; 10 advisories are withdrawn.
    assert_import_counts(&dir, 2651, 10);
}

#[test]
fn reimport_updates_by_modified_and_removes_vanished_and_withdrawn() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("osv");
    copy_packages(&db, &["requests", "urllib3", "py"]);
    let mut index = Index::new();
    let first = index.import(&db).unwrap();
    let n = first.added;
    assert!(n > 10);

    // 1. PYSEC-2018-28 gets a newer `modified` and a changed fix.
    let p = db.join("requests/PYSEC-2018-28.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let modified_line = text
        .lines()
        .find(|l| l.starts_with("modified:"))
        .unwrap()
        .to_string();
    let text = text
        .replace(&modified_line, "modified: '2030-01-01T00:00:00Z'")
        .replace("fixed: 2.20.0", "fixed: 2.21.0");
    std::fs::write(&p, text).unwrap();
    // 2. PYSEC-2014-13 changes without a newer `modified`: kept as is.
    let p13 = db.join("requests/PYSEC-2014-13.yaml");
    let t13 = std::fs::read_to_string(&p13)
        .unwrap()
        .replace("fixed: 2.3.0", "fixed: 9.9.9");
    std::fs::write(&p13, t13).unwrap();
    // 3. The py record vanishes.
    std::fs::remove_file(db.join("py/PYSEC-2022-42969.yaml")).unwrap();
    // 4. PYSEC-2023-74 is withdrawn.
    let p74 = db.join("requests/PYSEC-2023-74.yaml");
    let t74 = std::fs::read_to_string(&p74).unwrap();
    std::fs::write(&p74, format!("withdrawn: '2030-01-01T00:00:00Z'\n{t74}")).unwrap();

    let r = index.import(&db).unwrap();
    assert_eq!(
        (r.added, r.updated, r.removed, r.withdrawn),
        (0, 1, 2, 1),
        "{r}"
    );
    assert_eq!(r.unchanged, n - 3);
    assert!(index.get("PYSEC-2022-42969").is_none());
    assert!(index.get("PYSEC-2023-74").is_none());
    let updated = index.get("PYSEC-2018-28").unwrap();
    assert_eq!(
        updated.affected[0]
            .ranges
            .iter()
            .filter(|r| r.kind == provenant_vuln::RangeKind::Ecosystem)
            .find_map(|r| r.events.iter().find_map(|e| e.fixed.clone()))
            .as_deref(),
        Some("2.21.0")
    );
    let kept = index.get("PYSEC-2014-13").unwrap();
    assert!(format!("{kept:?}").contains("2.3.0") && !format!("{kept:?}").contains("9.9.9"));
}

#[test]
fn malformed_records_are_reported_with_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("osv");
    copy_packages(&db, &["requests"]);
    std::fs::write(db.join("requests/BROKEN-1.yaml"), "id: BROKEN-1\nmodified: 2024-01-01T00:00:00Z\naffected:\n- package:\n    ecosystem: PyPI\n    name: requests\n  ranges:\n  - type: ECOSYSTEM\n    events: oops\n").unwrap();
    std::fs::write(
        db.join("requests/BROKEN-2.json"),
        "{\"id\": \"BROKEN-2\", \"modified\": \"soon\"}",
    )
    .unwrap();
    std::fs::write(db.join("requests/BROKEN-3.yaml"), "\u{0}\u{1}: [").unwrap();
    let mut index = Index::new();
    let r = index.import(&db).unwrap();
    assert_eq!(r.added, 5);
    assert_eq!(r.skipped, 3);
    let issue = |name: &str| r.issues.iter().find(|i| i.file.ends_with(name)).unwrap();
    assert_eq!(issue("BROKEN-1.yaml").field, "affected[0].ranges[0].events");
    assert_eq!(issue("BROKEN-2.json").field, "modified");
    assert_eq!(issue("BROKEN-2.json").record.as_deref(), Some("BROKEN-2"));
    assert!(issue("BROKEN-1.yaml").to_string().contains("BROKEN-1.yaml"));
    assert!(!issue("BROKEN-3.yaml").message.is_empty());
}

#[test]
fn zip_export_import() {
    // An OSV-style all.zip of JSON records, made from real PyPA records.
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("all.zip");
    let mut zw = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut ids = Vec::new();
    for pkg in ["requests", "urllib3"] {
        for e in std::fs::read_dir(pypa_dir().join(pkg)).unwrap() {
            let e = e.unwrap();
            let rec = parse_record(&std::fs::read(e.path()).unwrap(), Format::Yaml).unwrap();
            zw.start_file(format!("{}.json", rec.id), opts).unwrap();
            zw.write_all(&serde_json::to_vec(&rec).unwrap()).unwrap();
            ids.push(rec.id);
        }
    }
    zw.start_file("bad.json", opts).unwrap();
    zw.write_all(b"{\"id\":\"X\"").unwrap();
    zw.start_file("README.txt", opts).unwrap();
    zw.write_all(b"not a record").unwrap();
    zw.finish().unwrap();

    let mut index = Index::new();
    let r = index.import(&zip_path).unwrap();
    assert_eq!(r.added, ids.len(), "{r}");
    assert_eq!(r.issues.len(), 1);
    assert!(
        r.issues[0].file.ends_with("all.zip!bad.json"),
        "{:?}",
        r.issues
    );
    for id in &ids {
        assert_eq!(
            index.get(id),
            pypa_index().get(id),
            "{id} differs from the YAML import"
        );
    }
    // Not a zip at all.
    let fake = tmp.path().join("fake.zip");
    std::fs::write(&fake, b"definitely not a zip").unwrap();
    assert!(matches!(
        Index::new().import(&fake),
        Err(VulnError::Zip { .. })
    ));
}

#[test]
fn unsupported_and_missing_sources_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let txt = tmp.path().join("notes.txt");
    std::fs::write(&txt, "x").unwrap();
    assert!(matches!(
        Index::new().import(&txt),
        Err(VulnError::UnsupportedSource { .. })
    ));
    assert!(matches!(
        Index::new().import(&tmp.path().join("nope")),
        Err(VulnError::Io { .. })
    ));
}

/// Persisted as the registry persists it (one JSON text per record, with its source) and
/// rebuilt with `Index::from_entries`.
fn assert_round_trips(index: &Index) {
    let rows: Vec<(String, String)> = index
        .entries()
        .map(|e| (e.source.clone(), serde_json::to_string(&e.record).unwrap()))
        .collect();
    let loaded = Index::from_entries(rows.iter().map(|(source, json)| IndexEntry {
        source: source.clone(),
        record: serde_json::from_str(json).unwrap(),
    }));
    assert_eq!(loaded.len(), index.len());
    for e in index.entries() {
        assert_eq!(loaded.get(&e.record.id), Some(&e.record));
    }
}

#[test]
fn persisted_index_round_trips_the_pypa_subset() {
    assert_round_trips(pypa_index());
}

#[test]
fn persisted_index_round_trips_the_full_database() {
    if let Some(index) = full_pypa_index("persisted_index_round_trips_the_full_database") {
        assert_round_trips(index);
    }
}
