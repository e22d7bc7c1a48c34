//! Shared fixtures: the repository's subset of the real PyPA database
//! (read-only), the whole database when `PROVENANT_PYPA_DIR` names it, and
//! shared indexes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use provenant_sbom::{Component, Sbom};
use provenant_testkit::skip;
use provenant_vuln::{Finding, Index, ScanOptions, scan};

/// The subset of the real PyPA advisory database kept in the repository
/// (`testdata/osv-pypa/vulns`, see its README for what each package is for).
pub fn pypa_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/osv-pypa/vulns")
}

/// The repository's PyPA subset, imported once per test run.
pub fn pypa_index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| import_all(&pypa_dir()))
}

/// The whole PyPA database's `vulns` folder, from `PROVENANT_PYPA_DIR` (the
/// folder holding `vulns/`). `None`, after [`skip`], when it is not
/// set (with `CI` set its absence fails the test).
pub fn full_pypa_dir(test: &str) -> Option<PathBuf> {
    let Some(root) = std::env::var_os("PROVENANT_PYPA_DIR") else {
        skip(format_args!(
            "{test} needs the whole PyPA advisory database: set PROVENANT_PYPA_DIR to the folder holding its vulns/ (see crates/provenant-vuln/README.md)"
        ));
        return None;
    };
    let dir = PathBuf::from(root).join("vulns");
    assert!(
        dir.is_dir(),
        "PROVENANT_PYPA_DIR is set but {} is not a directory",
        dir.display()
    );
    Some(dir)
}

/// The whole PyPA database (see [`full_pypa_dir`]), imported once per test run.
pub fn full_pypa_index(test: &str) -> Option<&'static Index> {
    static INDEX: OnceLock<Index> = OnceLock::new();
    let dir = full_pypa_dir(test)?;
    Some(INDEX.get_or_init(|| import_all(&dir)))
}

fn import_all(dir: &Path) -> Index {
    let mut index = Index::new();
    let report = index
        .import(dir)
        .unwrap_or_else(|e| panic!("import {}: {e}", dir.display()));
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    index
}

pub fn sbom_of(purls: &[&str]) -> Sbom {
    Sbom {
        components: purls
            .iter()
            .map(|p| Component::from_purl(p).unwrap())
            .collect(),
        ..Sbom::default()
    }
}

/// An SBOM document read with the product's one parser (`provenant_sbom::parse_sbom`).
pub fn parse_sbom(bytes: &[u8], name: &str) -> Result<Sbom, provenant_sbom::SbomError> {
    provenant_sbom::parse_sbom(bytes, name).map(|(_format, sbom)| sbom)
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
