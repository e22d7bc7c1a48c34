//! This machine's own Python environment as the fixture.

use std::collections::BTreeSet;

use provenant_sbom::{HashAlg, catalog_python_env, find_site_packages};

use crate::fixtures::{python_distributions, sha256_hex, site_packages};

#[test]
fn catalogs_exactly_what_python_sees() {
    let site = site_packages();
    let sbom = catalog_python_env(&site).unwrap();
    let expected: BTreeSet<(String, String)> = python_distributions(&site).into_iter().collect();
    let ours: BTreeSet<(String, String)> = sbom
        .components
        .iter()
        .map(|c| {
            let purl = c.purl.as_deref().unwrap();
            let name = purl
                .strip_prefix("pkg:pypi/")
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .to_string();
            (name, c.version.clone().unwrap())
        })
        .collect();
    assert!(
        expected.len() >= 5,
        "this machine's Python should have a few distributions"
    );
    assert_eq!(ours, expected);
    assert!(sbom.is_complete(), "{:?}", sbom.warnings);
}

#[test]
fn licences_suppliers_and_dependency_edges() {
    let sbom = catalog_python_env(&site_packages()).unwrap();
    let pip = sbom
        .components
        .iter()
        .find(|c| c.name == "pip")
        .expect("pip is installed");
    assert!(!pip.licenses.is_empty(), "pip declares a licence");
    let with_licence = sbom
        .components
        .iter()
        .filter(|c| !c.licenses.is_empty())
        .count();
    assert!(
        with_licence * 10 >= sbom.components.len() * 9,
        "{with_licence}/{} have a licence",
        sbom.components.len()
    );
    // Requires-Dist resolved within the environment: some edge exists and every target is a component.
    let edges: usize = sbom.dependencies.values().map(|d| d.len()).sum();
    assert!(edges > 0);
    for to in sbom.dependencies.values().flatten() {
        assert!(sbom.component(to).is_some(), "dangling edge to {to}");
    }
}

#[test]
fn record_hashes_match_the_files_on_disk() {
    let site = site_packages();
    let sbom = catalog_python_env(&site).unwrap();
    let pip = sbom.components.iter().find(|c| c.name == "pip").unwrap();
    assert!(pip.files.len() > 100);
    let mut checked = 0;
    for f in pip
        .files
        .iter()
        .filter(|f| f.path.ends_with(".py"))
        .take(20)
    {
        let bytes = std::fs::read(site.join(&f.path)).unwrap();
        assert_eq!(f.hashes[0].alg, HashAlg::Sha256);
        assert_eq!(f.hashes[0].hex, sha256_hex(&bytes), "{}", f.path);
        assert_eq!(f.size, Some(bytes.len() as u64));
        checked += 1;
    }
    assert_eq!(checked, 20);
}

#[test]
fn venv_root_is_found_and_unreadable_metadata_is_a_warning() {
    // A copy of two real distributions in a venv-shaped directory.
    let site = site_packages();
    let tmp = tempfile::tempdir().unwrap();
    let sp = tmp.path().join("lib/python3.11/site-packages");
    std::fs::create_dir_all(&sp).unwrap();
    std::fs::write(tmp.path().join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    let mut copied = 0;
    for e in std::fs::read_dir(&site).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if n.starts_with("pip-") && n.ends_with(".dist-info") {
            let d = sp.join(&n);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::copy(p.join("METADATA"), d.join("METADATA")).unwrap();
            copied += 1;
        }
    }
    assert_eq!(copied, 1);
    std::fs::create_dir_all(sp.join("broken-1.0.dist-info")).unwrap(); // no METADATA
    assert_eq!(find_site_packages(tmp.path()).unwrap(), vec![sp.clone()]);
    let sbom = catalog_python_env(tmp.path()).unwrap();
    assert_eq!(sbom.components.len(), 1);
    assert!(!sbom.is_complete());
    assert!(
        sbom.warnings[0]
            .file
            .ends_with("broken-1.0.dist-info/METADATA"),
        "{:?}",
        sbom.warnings
    );
}
