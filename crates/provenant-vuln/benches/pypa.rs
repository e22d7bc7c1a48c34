//! Import and scan benchmark against the real PyPA advisory database.
//!
//! `PROVENANT_PYPA_DIR=…/osv-pypa cargo bench --bench pypa` (release
//! profile): the variable names the folder holding the database's `vulns/`
//! (the repository keeps only a test subset, `testdata/osv-pypa`).
//! Prints the import time of the full database and the time of rebuilding the
//! index from stored rows (as the registry stores them: one JSON text per
//! record) + reading a 1,000-component CycloneDX SBOM + scanning it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use provenant_vuln::{Index, IndexEntry, ScanOptions, scan};

/// The whole database's `vulns` folder, from `PROVENANT_PYPA_DIR`.
fn pypa_dir() -> Result<PathBuf, String> {
    let root = std::env::var_os("PROVENANT_PYPA_DIR").ok_or(
        "pypa bench: set PROVENANT_PYPA_DIR to the PyPA advisory database (the folder holding vulns/)",
    )?;
    let dir = PathBuf::from(root).join("vulns");
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "pypa bench: PROVENANT_PYPA_DIR is set but {} is not a directory",
            dir.display()
        ))
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // useful either: run fully only when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("pypa bench: run with `cargo bench --bench pypa`");
        return;
    }
    let src = match pypa_dir() {
        Ok(src) => src,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut rows: Vec<(String, String)> = Vec::new();

    let mut imports = Vec::new();
    let mut report = None;
    for _ in 0..3 {
        let t = Instant::now();
        let mut index = Index::new();
        let r = index.import(&src).expect("import");
        rows = index
            .entries()
            .map(|e| {
                let json = serde_json::to_string(&e.record).expect("record json");
                (e.source.clone(), json)
            })
            .collect();
        imports.push(t.elapsed());
        report = Some(r);
    }
    let size: usize = rows.iter().map(|(s, j)| s.len() + j.len()).sum();
    println!(
        "import (parse {} + serialise rows): median {:?} of {imports:?}",
        src.display(),
        median(imports.clone())
    );
    println!("  {}", report.expect("ran"));
    println!("  stored rows {size} bytes");
    let load = || {
        Index::from_entries(rows.iter().map(|(source, json)| IndexEntry {
            source: source.clone(),
            record: serde_json::from_str(json).expect("stored record"),
        }))
    };

    // A 1,000-component SBOM: every PyPI package of the database at a listed
    // (vulnerable) version, padded with packages the database does not know.
    let index = load();
    let mut comps = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in index.entries() {
        for a in &e.record.affected {
            if let (Some(p), Some(v)) = (&a.package, a.versions.last())
                && seen.insert(p.name.clone())
                && comps.len() < 1000
            {
                comps.push((p.name.clone(), v.clone()));
            }
        }
    }
    let mut i = 0;
    while comps.len() < 1000 {
        comps.push((format!("unrelated-package-{i}"), "1.0.0".into()));
        i += 1;
    }
    let components: Vec<_> = comps
        .iter()
        .map(|(n, v)| serde_json::json!({"type": "library", "name": n, "version": v, "purl": format!("pkg:pypi/{n}@{v}")}))
        .collect();
    let bom = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components});
    let sbom_path = tmp.path().join("bom.json");
    std::fs::write(&sbom_path, serde_json::to_vec(&bom).expect("json")).expect("write sbom");

    let mut scans = Vec::new();
    let mut findings = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let index = load();
        let (_format, sbom) = provenant_sbom::read_sbom(&sbom_path).expect("sbom");
        let r = scan(&index, &sbom, &ScanOptions::default());
        scans.push(t.elapsed());
        findings = r.findings.len();
    }
    println!(
        "load index + read SBOM + scan 1000 components: median {:?}, min {:?} ({findings} findings)",
        median(scans.clone()),
        scans.iter().min().expect("ran")
    );
}
