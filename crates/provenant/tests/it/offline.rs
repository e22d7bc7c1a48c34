//! Commands that need no server: OMS digest/keygen/sign/verify and the
//! vulnerability database and scanner, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_provenant");

fn run(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("PROVENANT_VULNDB")
        .output()
        .unwrap()
}

fn expect(cwd: &Path, args: &[&str], code: i32) -> (String, String) {
    let out = run(cwd, args);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "provenant {args:?}\nstdout: {so}\nstderr: {se}"
    );
    (so, se)
}

#[test]
fn sign_verify_and_tampering() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("model");
    std::fs::create_dir_all(m.join("a")).unwrap();
    std::fs::write(m.join("a/b"), b"nested").unwrap();
    std::fs::write(m.join("a-c"), b"sorts between").unwrap();
    std::fs::write(m.join("empty"), b"").unwrap();
    std::fs::write(m.join("weights.bin"), vec![7u8; 300_000]).unwrap();
    let cwd = d.path();
    expect(cwd, &["keygen", "--out", "key.pem"], 0);
    assert!(cwd.join("key.pub").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(cwd.join("key.pem"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let (digest_before, _) = expect(cwd, &["digest", "model"], 0);
    assert!(
        digest_before.trim().starts_with("sha256:") && digest_before.trim().len() == 71,
        "{digest_before}"
    );
    expect(cwd, &["sign", "model", "--key", "key.pem"], 0);
    assert!(m.join("model.sig").exists());
    // The signature file itself is not part of the digest.
    assert_eq!(expect(cwd, &["digest", "model"], 0).0, digest_before);
    let (out, _) = expect(cwd, &["verify", "model", "--key", "key.pub", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["resources"], 4);

    // A changed byte names the file.
    let mut w = std::fs::read(m.join("weights.bin")).unwrap();
    w[1234] ^= 1;
    std::fs::write(m.join("weights.bin"), &w).unwrap();
    let (_, err) = expect(cwd, &["verify", "model", "--key", "key.pub"], 1);
    assert!(err.contains("weights.bin"), "{err}");
    w[1234] ^= 1;
    std::fs::write(m.join("weights.bin"), &w).unwrap();
    // An extra unsigned file fails unless --ignore-unsigned-files.
    std::fs::write(m.join("extra.txt"), b"x").unwrap();
    let (_, err) = expect(cwd, &["verify", "model", "--key", "key.pub"], 1);
    assert!(err.contains("extra.txt"), "{err}");
    expect(
        cwd,
        &[
            "verify",
            "model",
            "--key",
            "key.pub",
            "--ignore-unsigned-files",
        ],
        0,
    );
    std::fs::remove_file(m.join("extra.txt")).unwrap();
    // A different key is refused.
    expect(
        cwd,
        &["keygen", "--type", "ed25519", "--out", "other.pem"],
        0,
    );
    expect(cwd, &["verify", "model", "--key", "other.pub"], 1);
    // Shard mode and blake3 round-trip.
    expect(
        cwd,
        &[
            "sign",
            "model",
            "--key",
            "other.pem",
            "--shard-size",
            "100000",
            "--hash",
            "blake3",
            "--signature",
            "s.sig",
        ],
        0,
    );
    expect(
        cwd,
        &[
            "verify",
            "model",
            "--key",
            "other.pub",
            "--signature",
            "s.sig",
        ],
        0,
    );
    // That signature covers model.sig too: leaving it out makes a signed file missing.
    let (_, err) = expect(
        cwd,
        &[
            "verify",
            "model",
            "--key",
            "other.pub",
            "--signature",
            "s.sig",
            "--ignore-paths",
            "model/model.sig",
        ],
        1,
    );
    assert!(
        err.contains("model.sig") && err.contains("missing"),
        "{err}"
    );
    // Usage errors are exit 2.
    expect(cwd, &["verify", "model"], 2);
}

/// The repository's subset of the real PyPA advisory database, in the
/// database's own layout (`vulns/<package>/<ID>.yaml`, README, LICENSE).
fn pypa() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/osv-pypa")
}

#[test]
fn vulndb_import_and_scan_gate() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let db = cwd.join("db");
    let db_s = db.to_str().unwrap();
    let src = pypa();
    assert!(
        src.is_dir(),
        "PyPA advisory database missing at {}",
        src.display()
    );
    let (out, _) = expect(
        cwd,
        &[
            "vulndb",
            "import",
            src.to_str().unwrap(),
            "--db",
            db_s,
            "--json",
        ],
        0,
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 33 advisories (testdata/osv-pypa/README.md), one of them withdrawn; the
    // README and LICENSE beside vulns/ are not records.
    assert_eq!(
        (
            r["added"].as_u64(),
            r["withdrawn"].as_u64(),
            r["records"].as_u64()
        ),
        (Some(32), Some(1), Some(32)),
        "{r}"
    );
    assert_eq!(r["issues"], serde_json::json!([]), "{r}");
    // Re-import: nothing changes.
    let (out, _) = expect(
        cwd,
        &[
            "vulndb",
            "import",
            src.to_str().unwrap(),
            "--db",
            db_s,
            "--json",
        ],
        0,
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["added"].as_u64(), r["updated"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );

    let sbom = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [
            {"type": "library", "name": "requests", "version": "2.19.0", "purl": "pkg:pypi/requests@2.19.0"},
            {"type": "library", "name": "requests-ok", "version": "2.20.0", "purl": "pkg:pypi/requests@2.20.0"}
        ]
    });
    std::fs::write(cwd.join("bom.json"), sbom.to_string()).unwrap();
    let (out, _) = expect(cwd, &["scan", "bom.json", "--db", db_s, "--json"], 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"PYSEC-2018-28"), "{ids:?}");
    // A path that is not an SBOM is catalogued first (here a requirements file).
    std::fs::write(cwd.join("requirements.txt"), "requests==2.19.0\n").unwrap();
    let (out, err) = expect(
        cwd,
        &["scan", "requirements.txt", "--db", db_s, "--json"],
        0,
    );
    assert!(err.contains("catalogued 1 components"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "PYSEC-2018-28" && f["installed_version"] == "2.19.0"),
        "{report}"
    );
    let hits_2018_28: Vec<&str> = findings
        .iter()
        .filter(|f| f["id"] == "PYSEC-2018-28")
        .map(|f| f["installed_version"].as_str().unwrap())
        .collect();
    assert_eq!(
        hits_2018_28,
        ["2.19.0"],
        "2.20.0 is exactly `fixed` for PYSEC-2018-28: not affected"
    );
    // Later advisories (e.g. fixed in 2.31.0) do affect 2.20.0.
    assert!(findings.iter().any(|f| f["installed_version"] == "2.20.0"));
    // The gate: exit 1 when an unsuppressed finding meets the threshold.
    let (_, err) = expect(
        cwd,
        &["scan", "bom.json", "--db", db_s, "--fail-on", "low"],
        1,
    );
    assert!(err.contains("at or above low"), "{err}");
    // Waive everything on requests 2.19.0: still reported, suppressed, gate passes.
    let mut waivers = String::from("waivers:\n");
    let mut seen = std::collections::BTreeSet::new();
    for f in findings {
        if seen.insert(f["id"].as_str().unwrap().to_owned()) {
            waivers.push_str(&format!(
                "- id: {}\n  purl: pkg:pypi/requests\n  reason: no redirects to plain http in this service\n  approver: sec@example.com\n  expires: 2999-12-31\n",
                f["id"].as_str().unwrap()
            ));
        }
    }
    std::fs::write(cwd.join("waivers.yaml"), waivers).unwrap();
    let bom_old = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "requests", "version": "2.19.0", "purl": "pkg:pypi/requests@2.19.0"}]
    });
    std::fs::write(cwd.join("bom-old.json"), bom_old.to_string()).unwrap();
    let (out, _) = expect(
        cwd,
        &[
            "scan",
            "bom-old.json",
            "--db",
            db_s,
            "--waivers",
            "waivers.yaml",
            "--fail-on",
            "low",
            "--json",
        ],
        0,
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let all = report["findings"].as_array().unwrap();
    assert!(
        !all.is_empty() && all.iter().all(|f| f["suppressed"] == true),
        "{report}"
    );
    assert!(
        all.iter().all(|f| f["suppressed_reason"]
            .as_str()
            .is_some_and(|r| r.contains("no redirects"))),
        "{report}"
    );
    // A waiver without a reason is rejected at load.
    std::fs::write(
        cwd.join("bad.yaml"),
        "waivers:\n- id: X\n  purl: pkg:pypi/a\n  approver: a\n  expires: 2999-01-01\n",
    )
    .unwrap();
    let (_, err) = expect(
        cwd,
        &["scan", "bom.json", "--db", db_s, "--waivers", "bad.yaml"],
        2,
    );
    assert!(err.contains("reason"), "{err}");
    // SARIF output.
    let (out, _) = expect(cwd, &["scan", "bom.json", "--db", db_s, "--sarif"], 0);
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // No database: a clear error, exit 2.
    let (_, err) = expect(
        cwd,
        &[
            "scan",
            "bom.json",
            "--db",
            cwd.join("nope").to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.to_lowercase().contains("vulndb import") || err.contains("index"),
        "{err}"
    );
}

#[test]
fn sbom_of_lock_files_and_python_env() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let (out, _) = expect(
        cwd,
        &["sbom", lock.to_str().unwrap(), "--timestamp", "1700000000"],
        0,
    );
    let bom: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:cargo/serde@")),
        "{purls:?}"
    );
    // Deterministic with a pinned timestamp.
    let (again, _) = expect(
        cwd,
        &["sbom", lock.to_str().unwrap(), "--timestamp", "1700000000"],
        0,
    );
    assert_eq!(out, again);
    // SPDX to a file.
    expect(
        cwd,
        &[
            "sbom",
            lock.to_str().unwrap(),
            "-o",
            "spdx-json",
            "--output",
            "bom.spdx.json",
        ],
        0,
    );
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.join("bom.spdx.json")).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    // This machine's own Python environment, then scanned against the real advisories.
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap();
    let site = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (out, _) = expect(
        cwd,
        &["sbom", "--python-env", &site, "--output", "env.cdx.json"],
        0,
    );
    assert!(out.is_empty(), "data goes to the file");
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.join("env.cdx.json")).unwrap()).unwrap();
    let n = env["components"].as_array().unwrap().len();
    assert!(n >= 1, "no components in {site}");
    // A file that is no SBOM source is a clear error.
    std::fs::write(cwd.join("notes.txt"), b"hello").unwrap();
    expect(cwd, &["sbom", "notes.txt"], 2);
}

#[test]
fn keygen_never_writes_the_private_key_where_its_public_key_goes() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    // `--out key.pub` used to write the private key there and then the public
    // key over it: the private key was lost.
    for out in ["key.pub", "KEY.PUB", "sub/../key.pub"] {
        let (_, err) = expect(cwd, &["keygen", "--out", out], 2);
        assert!(
            err.contains("refusing to write the private key to a .pub path"),
            "{out}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(cwd).unwrap().count(),
        0,
        "nothing written"
    );

    // An existing public key file is not overwritten either, and no private key
    // is left behind without its public half.
    std::fs::write(cwd.join("k.pub"), "precious").unwrap();
    let (_, err) = expect(cwd, &["keygen", "--out", "k.pem"], 2);
    assert!(
        err.contains("k.pub") && err.contains("already exists"),
        "{err}"
    );
    assert!(!cwd.join("k.pem").exists());
    assert_eq!(
        std::fs::read_to_string(cwd.join("k.pub")).unwrap(),
        "precious"
    );

    // The usual case still works, and writes a private and a public key.
    let (out, _) = expect(cwd, &["keygen", "--out", "ok.pem"], 0);
    assert!(out.contains("ok.pub"), "{out}");
    let private = std::fs::read_to_string(cwd.join("ok.pem")).unwrap();
    let public = std::fs::read_to_string(cwd.join("ok.pub")).unwrap();
    assert!(private.contains("BEGIN PRIVATE KEY"), "{private}");
    assert!(public.contains("BEGIN PUBLIC KEY"), "{public}");
}
