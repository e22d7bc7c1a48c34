//! The policy gate through the real binary: `serve --policy-dir` with the
//! shipped library (provenance and datasets overridden to warn), `provenant
//! gate` for a CD pipeline (exit 0 allow, 1 deny), `decisions`, `show`,
//! `policy input` fed to `policy eval` (the same decision as the server's),
//! `policy test` and `policy check` on the shipped library and on a broken
//! one, and `audit verify` covering every decision.

use std::path::{Path, PathBuf};

use provenant_attest::Signer as _;
use provenant_testkit::ServeDatabase;
use serde_json::{Value, json};

use crate::{Server, start_with, write};

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

provenant_testkit::both!(sync gate_for_pipelines, |db: &ServeDatabase| {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("work");
    write(&w.join("m/weights.bin"), &[5u8; 2048]);
    write(&w.join("m/config.json"), b"{}");
    // The key the data approves, made before the server starts.
    let key = provenant_attest::PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256)
        .unwrap();
    let public = key.write_pem_files(&w.join("k.pem")).unwrap();
    assert_eq!(public, w.join("k.pub"));
    let data = w.join("data.json");
    write(
        &data,
        json!({"provenant_config": {
            "trusted_identities": {"keys": [key.public_key().fingerprint()], "certificates": []},
            "allowed_licences": ["Apache-2.0"],
        }})
        .to_string()
        .as_bytes(),
    );
    let policy_dir = policies();
    let modes = [
        "--policy-mode",
        "provenant.provenance=warn",
        "--policy-mode",
        "provenant.datasets=dry-run",
    ];
    let mut extra = vec![
        "--policy-dir",
        policy_dir.to_str().unwrap(),
        "--policy-data",
        data.to_str().unwrap(),
    ];
    extra.extend(modes);
    let s: Server = start_with(dir.path(), db.url(), &extra);

    s.ok(&w, &["keys", "add", "secure", "k.pub", "--comment", "release"]);
    let pushed = s.json(
        &w,
        &["push", "m", "--model", "secure/detector", "--sign", "--key", "k.pem"],
    );
    let digest = pushed["version"]["digest"].as_str().unwrap().to_owned();
    let pinned = format!("secure/detector@{digest}");

    // By digest: allowed (exit 0), with the warn-mode provenance reason as a
    // warning and the dry-run one apart.
    let out = s.ok(&w, &["gate", &pinned, "--env", "staging"]);
    assert!(out.starts_with("ALLOW deploy of secure/detector@"), "{out}");
    assert!(out.contains("warn    provenant.provenance:"), "{out}");
    let allowed = s.json(&w, &["gate", &pinned, "--env", "staging"]);
    assert_eq!(allowed["decision"]["allowed"], true, "{allowed}");
    assert_eq!(allowed["cached"], true, "the same question again: {allowed}");
    // By number: a mutable reference, denied (exit 1) with the reason.
    let out = s.cli(&w, &["gate", "secure/detector:1", "--env", "staging"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("DENY deploy"), "{text}");
    assert!(text.contains("provenant.deploy_digest"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the policy gate denies"));

    // What was decided is on record, and `show` says so.
    let decisions = s.json(&w, &["decisions", "secure/detector:1"]);
    let list = decisions.as_array().unwrap();
    assert!(list.len() >= 2, "{decisions}");
    assert!(list.iter().any(|d| d["decision"]["allowed"] == false), "{decisions}");
    let shown = s.ok(&w, &["show", "secure/detector:1"]);
    assert!(shown.contains("decisions (newest first"), "{shown}");
    assert!(shown.contains("deny deploy to staging"), "{shown}");

    // `policy input` is what the server decided on: `policy eval` on it with
    // the same policies, data and modes gives the same decision.
    let input = s.ok(&w, &["policy", "input", &pinned, "--env", "staging"]);
    write(&w.join("input.json"), input.as_bytes());
    let input: Value = serde_json::from_str(&input).unwrap();
    assert_eq!(input["schema"], "https://provenant.dev/policy-input/v1");
    assert_eq!(input["artifact"]["pinned"], true);
    let mut eval = vec!["policy", "eval", "--input", "input.json", "--data", data.to_str().unwrap()];
    eval.extend(["--mode", "provenant.provenance=warn", "--mode", "provenant.datasets=dry-run"]);
    eval.push(policy_dir.to_str().unwrap());
    let local: Value = serde_json::from_str(&s.ok(&w, &eval)).unwrap();
    for k in ["allowed", "deny", "warn", "dry_run", "policy_set", "input_digest"] {
        assert_eq!(local[k], allowed["decision"][k], "{k}: {local} vs {allowed}");
    }

    // The shipped library's Rego tests pass; a broken policy is named by
    // file and line.
    let out = s.ok(&w, &["policy", "test", policy_dir.to_str().unwrap()]);
    assert!(out.contains("PASS:"), "{out}");
    write(
        &w.join("broken/bad.rego"),
        b"package provenant.bad\n\ndeny contains msg if {\n  msg := [1,\n}\n",
    );
    let out = s.cli(&w, &["policy", "check", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(err.contains("bad.rego:4"), "{err}");

    // Every decision and the policy set are in the log: the audit passes.
    let key = s.ok(&w, &["log", "key"]).trim().to_owned();
    let state = w.join("state");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = s.cli(
            &w,
            &["audit", "verify", "--log-key", &key, "--state-dir", state.to_str().unwrap()],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && text.contains("audit passed") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "audit: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (_, records) = s.api("GET", "/api/v1/admin/log/records", Value::Null);
    let records = records.as_array().unwrap();
    assert!(
        records.iter().any(|r| r["type"] == "policy.decision"),
        "{records:?}"
    );
    assert!(records.iter().any(|r| r["type"] == "policy.loaded"));
});
