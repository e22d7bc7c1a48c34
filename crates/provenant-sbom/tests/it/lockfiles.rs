//! Real lock files: the workspace's Cargo.lock, a pip freeze of this machine.

use std::path::Path;
use std::process::Command;

use provenant_sbom::{
    ComponentKind, LockKind, SbomError, catalog_lockfile, catalog_path, parse_lock,
};

fn count_packages(lock: &str) -> usize {
    lock.lines().filter(|l| *l == "[[package]]").count()
}

#[test]
fn workspace_cargo_lock() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let text = std::fs::read_to_string(&path).unwrap();
    let sbom = catalog_lockfile(&path).unwrap();
    assert_eq!(sbom.components.len(), count_packages(&text));
    let me = sbom
        .components
        .iter()
        .find(|c| c.name == "provenant-sbom")
        .unwrap();
    assert_eq!(me.kind, ComponentKind::Application);
    let deps = &sbom.dependencies[&me.bom_ref];
    assert!(
        deps.iter().any(|d| d.starts_with("pkg:cargo/sha2@")),
        "{deps:?}"
    );
    let sha2 = sbom.components.iter().find(|c| c.name == "sha2").unwrap();
    assert_eq!(sha2.hashes.len(), 1, "crates.io checksum recorded");
    assert!(sbom.is_complete());
}

#[test]
fn workspace_cargo_lock_by_path_detection() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let text = std::fs::read_to_string(&path).unwrap();
    let sbom = catalog_path(&path).unwrap();
    // Same name+version from two sources would merge; the workspace has none.
    assert_eq!(sbom.components.len(), count_packages(&text));
}

#[test]
fn truncated_cargo_lock_names_file_and_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let text = std::fs::read_to_string(&path).unwrap();
    // Cut in the middle of a quoted string.
    let cut = text.find("checksum = \"").unwrap() + 20;
    let err = parse_lock(LockKind::CargoLock, &text[..cut], "Cargo.lock").unwrap_err();
    match err {
        SbomError::Parse { file, line, .. } => {
            assert_eq!(file, "Cargo.lock");
            assert_eq!(line, text[..cut].lines().count());
        }
        other => panic!("{other}"),
    }
}

#[test]
fn pip_freeze_of_this_machine_is_all_pinned() {
    let out = Command::new("python3")
        .args(["-m", "pip", "freeze", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("requirements.txt");
    std::fs::write(&p, &out.stdout).unwrap();
    let sbom = catalog_lockfile(&p).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let reqs: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let pinned = reqs.iter().filter(|l| l.contains("==")).count();
    assert!(pinned > 5);
    assert_eq!(sbom.components.len(), reqs.len());
    assert_eq!(
        sbom.components
            .iter()
            .filter(|c| c.version.is_some())
            .count(),
        pinned
    );
    // Direct-URL installs (`name @ file://…`) are reported, and make the SBOM incomplete.
    assert_eq!(
        sbom.is_complete(),
        pinned == reqs.len(),
        "{:?}",
        sbom.warnings
    );
}

#[test]
fn requirements_include_and_unpinned() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("requirements.txt"),
        "-r requirements-base.txt\nflask>=2\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("requirements-base.txt"),
        "requests==2.31.0 \\\n  --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f\n-r requirements.txt\n",
    )
    .unwrap();
    let sbom = catalog_lockfile(&tmp.path().join("requirements.txt")).unwrap();
    assert_eq!(sbom.components.len(), 2);
    assert!(!sbom.is_complete(), "flask is unpinned");
    assert!(sbom.warnings[0].message.contains("unpinned"));
    std::fs::write(tmp.path().join("requirements.txt"), "-r missing.txt\n").unwrap();
    let e = catalog_lockfile(&tmp.path().join("requirements.txt")).unwrap_err();
    assert!(e.to_string().contains("requirements.txt:1"), "{e}");
}

#[test]
fn directory_detection_combines_sources() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
        tmp.path().join("Cargo.lock"),
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("svc")).unwrap();
    std::fs::write(tmp.path().join("svc/requirements.txt"), "six==1.16.0\n").unwrap();
    std::fs::create_dir_all(tmp.path().join("node_modules/x")).unwrap();
    std::fs::write(
        tmp.path().join("node_modules/x/requirements.txt"),
        "never==1\n",
    )
    .unwrap();
    let sbom = catalog_path(tmp.path()).unwrap();
    assert!(sbom.component("pkg:pypi/six@1.16.0").is_some());
    assert!(
        sbom.component("pkg:pypi/never@1").is_none(),
        "node_modules is not searched"
    );
    assert!(sbom.components.iter().any(|c| c.name == "provenant-sbom"));
}
