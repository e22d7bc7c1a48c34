//! Shared fixtures: the real PyPA database (read-only) and a shared index.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use provenant_vuln::{Component, Finding, Index, Sbom, SbomFormat, ScanOptions, scan};

/// The real PyPA advisory database (`../shared/data/osv-pypa/vulns`).
pub fn pypa_dir() -> PathBuf {
    std::env::var_os("PROVENANT_PYPA_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/osv-pypa/vulns"),
        PathBuf::from,
    )
}

/// The full PyPA database, imported once per test run.
pub fn pypa_index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index::new();
        let report = index.import(&pypa_dir()).expect("import PyPA");
        assert!(report.issues.is_empty(), "{:?}", report.issues);
        index
    })
}

pub fn sbom_of(purls: &[&str]) -> Sbom {
    Sbom {
        format: SbomFormat::CycloneDx,
        subject: None,
        components: purls
            .iter()
            .map(|p| Component::from_purl(p).unwrap())
            .collect(),
        warnings: vec![],
    }
}

/// Findings for one package version against the real database.
pub fn findings(purl: &str) -> Vec<Finding> {
    scan(pypa_index(), &sbom_of(&[purl]), &ScanOptions::default()).findings
}

/// The sorted advisory ids of [`findings`].
pub fn ids(purl: &str) -> Vec<String> {
    let mut v: Vec<String> = findings(purl).into_iter().map(|f| f.id).collect();
    v.sort();
    v
}

/// Copies some package directories of the real database into `dest`.
pub fn copy_packages(dest: &Path, packages: &[&str]) {
    for p in packages {
        let from = pypa_dir().join(p);
        let to = dest.join(p);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Whether an interop peer may be skipped: only when `CI` is unset.
pub fn skip_missing_peer(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the interop peer is missing: {what}");
    }
    eprintln!("SKIPPED: {what} (set up the peer, see the crate's README)");
}
