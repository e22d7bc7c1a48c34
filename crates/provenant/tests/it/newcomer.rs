//! What a new user trips over (issue 15, §5 and §6): help text, closed pipes,
//! tokens in clear, private keys, archived versions behind aliases, filters,
//! fingerprints, signatures made before a push, digest prefixes.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{BIN, Server, start, write};

/// A small model pushed as `aiops/a:1`.
fn small_model(s: &Server, dir: &Path, name: &str, content: &[u8]) -> Value {
    let m = dir.join(name.replace('/', "-"));
    write(&m.join("weights.bin"), content);
    write(&m.join("config.json"), br#"{"layers": 1}"#);
    s.json(
        dir,
        &[
            "push",
            m.to_str().unwrap(),
            "--model",
            name,
            "--label",
            "stage=dev",
        ],
    )
}

#[test]
fn help_opens_with_what_provenant_is() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("Provenant is a model registry you can verify"),
        "{first}"
    );
    assert!(!text.contains("one module per command"), "{text}");
}

/// Run the CLI with its stdout a pipe whose reader has already gone.
fn closed_pipe(s: &Server, dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("PROVENANT_URL", &s.url)
        .env("PROVENANT_TOKEN", &s.token)
        .env("PROVENANT_CONFIG", dir.join("no-config.toml"))
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let s = start(dir, None);
    small_model(&s, dir, "aiops/a", b"weights");
    for args in [
        &["show", "aiops/a:1", "--json"][..],
        &["show", "aiops/a:1"],
        &["list", "aiops/a"],
        &["audit", "export"],
    ] {
        let (code, err) = closed_pipe(&s, dir, args);
        assert_eq!(code, Some(141), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} printed: {err}");
    }
}

#[test]
fn token_over_plain_http_to_another_host_warns_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["list"])
        .env("PROVENANT_URL", "http://registry.invalid:7878")
        .env("PROVENANT_TOKEN", "pvt_x")
        .env("PROVENANT_CONFIG", dir.path().join("no-config.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("plain http://").count(), 1, "{err}");
    // Loopback, or no token: no warning.
    let s = start(dir.path(), None);
    let out = s.cli(dir.path(), &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("plain http://"), "{err}");
}

fn fingerprint(path: &Path) -> String {
    provenant_attest::PublicKey::from_pem_file(path)
        .unwrap()
        .fingerprint()
}

#[test]
fn private_keys_stay_here_and_a_key_has_one_fingerprint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = start(dir, None);
    s.ok(dir, &["keygen", "--out", "k.pem"]);
    s.ok(dir, &["keygen", "--out", "other.pem"]);
    let fp = fingerprint(&dir.join("k.pub"));
    let other_fp = fingerprint(&dir.join("other.pub"));

    // Refused before any request: the registry URL leads nowhere.
    write(&dir.join("junk.pem"), b"not a key");
    let out = Command::new(BIN)
        .args(["keys", "add", "aiops", "junk.pem"])
        .current_dir(dir)
        .env("PROVENANT_URL", "http://127.0.0.1:1")
        .env("PROVENANT_TOKEN", "pvt_x")
        .env("PROVENANT_CONFIG", dir.join("no-config.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no PUBLIC KEY or CERTIFICATE"), "{err}");

    // A private key: its public key is derived here, said so, and trusted.
    let out = s.cli(dir, &["keys", "add", "aiops", "k.pem", "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("is a private key") && err.contains(&fp),
        "{err}"
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["fingerprint"], fp.as_str());
    // The same key as its public file: already trusted, the same fingerprint.
    let out = s.ok(dir, &["keys", "add", "aiops", "k.pub"]);
    assert!(out.contains(&format!("already trusts {fp}")), "{out}");
    let keys = s.json(dir, &["keys", "list", "aiops"]);
    assert_eq!(keys[0]["fingerprint"], fp.as_str(), "{keys}");

    // verify names the signer and a wrong key by that same form.
    let m = dir.join("m");
    write(&m.join("w.bin"), b"weights");
    s.ok(dir, &["sign", "m", "--key", "k.pem"]);
    let out = s.ok(dir, &["verify", "m", "--key", "k.pem"]);
    assert!(out.contains(&fp), "{out}");
    s.fails(dir, &["verify", "m", "--key", "other.pub"], 1, &other_fp);

    // keys remove takes the fingerprint without its prefix too.
    let bare = fp.trim_start_matches("sha256:").to_owned();
    let out = s.ok(dir, &["keys", "remove", "aiops", &bare]);
    assert!(out.contains(&fp), "{out}");
    assert_eq!(
        s.json(dir, &["keys", "list", "aiops"]),
        serde_json::json!([])
    );
    s.fails(
        dir,
        &["keys", "remove", "aiops", "sha256:abc"],
        2,
        "neither a key fingerprint",
    );
}
