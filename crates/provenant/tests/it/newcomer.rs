//! What a new user trips over (issue 15, §5 and §6): help text, closed pipes,
//! tokens in clear, private keys, archived versions behind aliases, filters,
//! fingerprints, signatures made before a push, digest prefixes.

use std::path::Path;
use std::process::{Command, Stdio};

use provenant_testkit::ServeDatabase;
use serde_json::Value;
use sha2::Digest as _;

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

/// An alias never points at an archived version; deprecated versions warn.
fn archive_refused_while_aliased(s: &Server, dir: &Path) {
    small_model(s, dir, "aiops/arch", b"one");
    small_model(s, dir, "aiops/arch", b"two");
    s.ok(dir, &["alias", "set", "aiops/arch:1", "production"]);
    s.ok(dir, &["alias", "set", "aiops/arch:1", "canary"]);
    s.fails(
        dir,
        &["archive", "aiops/arch:1", "--reason", "x"],
        2,
        "while aliases point at it (canary, production)",
    );
    assert_eq!(s.json(dir, &["show", "aiops/arch:1"])["state"], "active");
    s.ok(dir, &["deprecate", "aiops/arch:1", "--reason", "drift"]);
    for args in [
        &["pull", "aiops/arch#production", "arch-out"][..],
        &["show", "aiops/arch#production"],
    ] {
        let out = s.cli(dir, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains("warning: aiops/arch:1 is deprecated: drift"),
            "{args:?}: {err}"
        );
    }
    let out = s.cli(dir, &["show", "aiops/arch:2"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    // Once the aliases have moved, it can be archived.
    s.ok(dir, &["alias", "set", "aiops/arch:2", "production"]);
    s.ok(dir, &["alias", "set", "aiops/arch:2", "canary"]);
    let v = s.json(dir, &["archive", "aiops/arch:1", "--reason", "x"]);
    assert_eq!(v["state"], "archived");
}

/// A `model.sig` made with `provenant sign` attaches to the version of its
/// files; `pull --verify` uses the namespace's keys and `--signature` writes
/// the bundle beside the files, where `provenant verify` finds it.
fn signature_made_before_push(s: &Server, dir: &Path) {
    s.ok(dir, &["keygen", "--out", "sig.pem"]);
    let m = dir.join("sig-m");
    write(&m.join("weights.bin"), b"signed weights");
    write(&m.join("tok/vocab.json"), b"{}");
    s.ok(dir, &["push", "sig-m", "--model", "signing/sig"]);
    s.ok(dir, &["sign", "sig-m", "--key", "sig.pem"]);
    let out = s.ok(
        dir,
        &[
            "attach",
            "signing/sig:1",
            "sig-m/model.sig",
            "--key",
            "sig.pub",
        ],
    );
    assert!(out.contains("OMS signature"), "{out}");
    let v = s.json(dir, &["show", "signing/sig:1"]);
    assert_eq!(v["signatures"].as_array().unwrap().len(), 1, "{v}");

    // No key given and none trusted: nothing to verify with.
    s.fails(
        dir,
        &["pull", "signing/sig:1", "sig-none", "--verify"],
        1,
        "trusts no key",
    );
    assert!(!dir.join("sig-none").exists());
    s.ok(dir, &["keys", "add", "signing", "sig.pub"]);
    let out = s.ok(
        dir,
        &[
            "pull",
            "signing/sig:1",
            "sig-out",
            "--verify",
            "--signature",
        ],
    );
    assert!(out.contains("trusted by the namespace"), "{out}");
    assert!(dir.join("sig-out/model.sig").is_file(), "{out}");
    let out = s.ok(dir, &["verify", "sig-out", "--key", "sig.pub"]);
    assert!(out.contains("verified"), "{out}");
    // Written elsewhere on request, without --verify.
    s.ok(
        dir,
        &[
            "pull",
            "signing/sig:1",
            "sig-out2",
            "--signature",
            "elsewhere.sig",
        ],
    );
    assert!(dir.join("elsewhere.sig").is_file());
    assert!(!dir.join("sig-out2/model.sig").exists());
    let out = s.ok(
        dir,
        &[
            "verify",
            "sig-out2",
            "--key",
            "sig.pub",
            "--signature",
            "elsewhere.sig",
        ],
    );
    assert!(out.contains("verified"), "{out}");
}

/// `--label`/`--state` filter a model's versions, and are refused where
/// models are listed (they used to be ignored there).
fn list_filters(s: &Server, dir: &Path) {
    for args in [
        &["list", "--label", "stage=x"][..],
        &["list", "aiops", "--state", "active"],
        &["list", "aiops/no-such-model", "--label", "stage=dev"],
    ] {
        s.fails(dir, args, 2, "filters the versions of one model");
    }
    // aiops/arch (archive_refused_while_aliased): 1 archived, 2 active.
    let page = s.json(dir, &["list", "aiops/arch", "--state", "archived"]);
    let numbers: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1], "{page}");
    let page = s.json(
        dir,
        &[
            "list",
            "aiops/arch",
            "--label",
            "stage=dev",
            "--state",
            "active",
        ],
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    s.fails(
        dir,
        &["list", "aiops/arch", "--state", "gone"],
        2,
        "invalid value",
    );
}

/// A digest prefix as `list` prints it resolves; a short one is refused.
fn digest_prefix_resolves(s: &Server, dir: &Path) {
    let v = small_model(s, dir, "aiops/pfx", b"prefix");
    let digest = v["version"]["digest"].as_str().unwrap().to_owned();
    let listed = s.ok(dir, &["list", "aiops/pfx"]);
    let short = &digest[..19];
    assert!(listed.contains(short), "{listed}");
    let shown = s.json(dir, &["show", &format!("aiops/pfx@{short}")]);
    assert_eq!(shown["digest"], digest.as_str());
    s.fails(
        dir,
        &["show", &format!("aiops/pfx@{}", &digest[..18])],
        2,
        "at least 12 hex digits",
    );
    s.fails(
        dir,
        &["show", "aiops/pfx@sha256:000000000000"],
        2,
        "version_not_found",
    );
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `capture -- COMMAND` runs the command: real start and end, its exit
/// status, no recipe when it fails; `--parent` takes any reference and pins it.
fn capture_runs_the_training(s: &Server, dir: &Path) {
    if !provenant_testkit::require_program("git") {
        return;
    }
    let repo = dir.join("train-repo");
    write(&repo.join("train.sh"), b"sleep 1\n");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.email", "a@example.com"]);
    git(&repo, &["config", "user.name", "A"]);
    git(&repo, &["add", "train.sh"]);
    git(&repo, &["commit", "-q", "-m", "train"]);
    let marker = dir.join("trained.txt");
    let script = format!(
        "sleep 1; echo \"token=${{PROVENANT_TOKEN:-none}}\" > {}",
        marker.display()
    );
    let out = s.cli(
        &repo,
        &[
            "capture",
            "--parent",
            "aiops/pfx",
            "--out",
            "../recipe.json",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.is_file(), "the training command ran");
    // It ran without the registry credential of the person running capture.
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "token=none\n");
    let r: Value =
        serde_json::from_slice(&std::fs::read(dir.join("recipe.json")).unwrap()).unwrap();
    // Whole seconds (`YYYY-MM-DDTHH:MM:SS`, UTC): the run slept one second.
    let second = |k: &str| r[k].as_str().unwrap()[..19].to_owned();
    assert!(second("startedOn") < second("finishedOn"), "{r}");
    assert_eq!(
        (r["entrypoint"].as_str(), r["exitCode"].as_i64()),
        (Some("sh"), Some(0))
    );
    let pfx = s.json(dir, &["show", "aiops/pfx"]);
    assert_eq!(
        r["parents"],
        serde_json::json!([format!("aiops/pfx@{}", pfx["digest"].as_str().unwrap())])
    );

    // A failing command: its status, and no recipe.
    let out = s.cli(
        &repo,
        &[
            "capture",
            "--out",
            "../failed.json",
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("exited with status 3"), "{err}");
    assert!(!dir.join("failed.json").exists());

    // The recipe on stdout stays JSON: the command's output goes to stderr.
    let out = s.cli(&repo, &["capture", "--", "sh", "-c", "echo chatter"]);
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["startedOn"].is_string(), "{r}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("chatter"));

    // Only an entrypoint: nothing ran, so no training time is claimed.
    let r: Value =
        serde_json::from_str(&s.ok(&repo, &["capture", "--entrypoint", "train.sh"])).unwrap();
    assert_eq!(r["entrypoint"], "train.sh");
    assert!(
        r.get("startedOn").is_none() && r.get("finishedOn").is_none(),
        "{r}"
    );

    // impact: an abbreviated commit (the registry expands it against the
    // commits it recorded, wherever the CLI runs) and a dataset path.
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&repo)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    // (the head is recorded by no provenance here: an abbreviation of it names nothing)
    s.fails(
        dir,
        &["impact", &format!("commit:{}", &head[..10].to_uppercase())],
        2,
        &format!("no recorded commit starts with {}", &head[..10]),
    );
    s.fails(
        dir,
        &["impact", "commit:abcdef1"],
        2,
        "no recorded commit starts with abcdef1",
    );
    s.fails(
        dir,
        &["impact", "commit:abc"],
        2,
        "abbreviation of at least 7",
    );
    write(&dir.join("ds/part-0.csv"), b"a,b\n1,2\n");
    let ds = s.json(dir, &["dataset", "hash", "ds"]);
    let r = s.json(dir, &["impact", "ds"]);
    assert_eq!(
        r["input"],
        format!("dataset:{}", ds["digest"].as_str().unwrap()),
        "{r}"
    );
}

/// A push is all or nothing: with `--require-trusted`, a signer the
/// namespace does not trust leaves no version (the server decides, in the
/// publish itself); once trusted, the version comes with its signature. A key
/// always signs.
fn push_is_all_or_nothing(s: &Server, dir: &Path) {
    s.ok(dir, &["keygen", "--out", "strict.pem"]);
    let m = dir.join("strict-model");
    write(&m.join("weights.bin"), b"strict weights");
    let push = [
        "push",
        m.to_str().unwrap(),
        "--model",
        "aiops/strict",
        "--key",
        "strict.pem",
    ];
    let out = s.cli(dir, &[&push[..], &["--require-trusted"]].concat());
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("untrusted") || err.contains("not trusted"),
        "{err}"
    );
    let out = s.cli(dir, &["show", "aiops/strict"]);
    assert!(!out.status.success(), "a version was left: {out:?}");

    s.ok(dir, &["keys", "add", "aiops", "strict.pub"]);
    let r = s.json(dir, &[&push[..], &["--require-trusted"]].concat());
    assert_eq!(r["signature"]["trusted"], true, "{r}");
    // `--key` alone signs: the second push of other content is signed too.
    write(&m.join("weights.bin"), b"strict weights v2");
    let r = s.json(dir, &push);
    assert_eq!(r["version"]["number"], 2, "{r}");
    assert_eq!(r["signature"]["trusted"], true, "{r}");
}

/// Paths the server refuses are refused by push before any upload.
fn push_refuses_unpullable_paths(s: &Server, dir: &Path) {
    for (name, files) in [
        ("case", &["Weights.bin", "weights.bin"][..]),
        ("device", &["nul.txt"][..]),
        ("trailing-dot", &["weights."][..]),
    ] {
        let m = dir.join(format!("unpullable-{name}"));
        for f in files {
            write(&m.join(f), f.as_bytes());
        }
        let out = s.cli(
            dir,
            &["push", m.to_str().unwrap(), "--model", "aiops/unpullable"],
        );
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid file path"),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_, blobs) = s.api(
        "GET",
        "/api/v1/models/aiops%2Funpullable",
        serde_json::Value::Null,
    );
    assert_eq!(blobs["code"], "model_not_found", "{blobs}");
    // Refused before uploading: not even the blobs reached the server.
    for content in [&b"nul.txt"[..], b"weights."] {
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(content)));
        let (status, _) = s.api(
            "GET",
            &format!("/api/v1/blobs/{digest}"),
            serde_json::Value::Null,
        );
        assert_eq!(status, 404, "{digest} was uploaded");
    }
}

provenant_testkit::both!(sync server_side_rules, |db: &ServeDatabase| {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), db.url());
    archive_refused_while_aliased(&s, tmp.path());
    signature_made_before_push(&s, tmp.path());
    list_filters(&s, tmp.path());
    log_prove_covers_every_attachment(&s, tmp.path());
    digest_prefix_resolves(&s, tmp.path());
    capture_runs_the_training(&s, tmp.path());
    push_refuses_unpullable_paths(&s, tmp.path());
    push_is_all_or_nothing(&s, tmp.path());
});

/// OSV records of a made-up PyPI package at each severity, and an unrated one.
fn severity_db(dir: &Path) -> String {
    let src = dir.join("osv");
    for (id, package, rating) in [
        ("TEST-CRIT", "critpkg", Some("CRITICAL")),
        ("TEST-MED", "medpkg", Some("MODERATE")),
        ("TEST-UNRATED", "unratedpkg", None),
    ] {
        let mut record = serde_json::json!({
            "schema_version": "1.6.0",
            "id": id,
            "modified": "2026-01-01T00:00:00Z",
            "summary": "made up for a test",
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]
            }]
        });
        if let Some(r) = rating {
            record["database_specific"] = serde_json::json!({"severity": r});
        }
        write(
            &src.join(format!("{id}.json")),
            record.to_string().as_bytes(),
        );
    }
    let db = dir.join("db");
    let out = Command::new(BIN)
        .args(["vulndb", "import"])
        .arg(&src)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.to_str().unwrap().to_owned()
}

fn bom(dir: &Path, name: &str, packages: &[&str]) {
    let components: Vec<Value> = packages
        .iter()
        .map(|p| serde_json::json!({"type": "library", "name": p, "version": "1.0", "purl": format!("pkg:pypi/{p}@1.0")}))
        .collect();
    let doc = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": components});
    write(&dir.join(name), doc.to_string().as_bytes());
}

#[test]
fn fail_on_counts_what_it_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = severity_db(dir);
    let scan = |bom: &str, threshold: &str| {
        Command::new(BIN)
            .args(["scan", bom, "--db", &db, "--fail-on", threshold])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    // A medium finding does not trip --fail-on critical; a critical one does,
    // and the count is of findings at or above the threshold only.
    bom(dir, "med.json", &["medpkg"]);
    let out = scan("med.json", "critical");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bom(dir, "crit.json", &["medpkg", "critpkg"]);
    let out = scan("crit.json", "critical");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 unsuppressed finding(s) at or above critical or unrated"),
        "{err}"
    );
    let out = scan("crit.json", "medium");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 unsuppressed finding(s)"), "{err}");
    // Unrated counts against any threshold (fail closed), as the README says.
    bom(dir, "unrated.json", &["medpkg", "unratedpkg"]);
    let out = scan("unrated.json", "critical");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 unsuppressed finding(s)"), "{err}");
    // A threshold that is not a level is a usage error.
    let out = scan("med.json", "severe");
    assert_eq!(out.status.code(), Some(2));
}

/// `log prove <ref>` proves every entry of the version: publish, and each
/// attachment whatever its kind (it used to leave out SBOMs and provenance).
fn log_prove_covers_every_attachment(s: &Server, dir: &Path) {
    s.ok(dir, &["keygen", "--out", "lp.pem"]);
    small_model(s, dir, "aiops/lp", b"log me");
    bom(dir, "lp-bom.json", &["medpkg"]);
    s.ok(
        dir,
        &[
            "attach",
            "aiops/lp:1",
            "--sbom",
            "lp-bom.json",
            "--key",
            "lp.pem",
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s
        .ok(dir, &["audit", "export"])
        .lines()
        .any(|l| l.contains("\"pending\""))
    {
        assert!(std::time::Instant::now() < deadline, "entries stay pending");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let key = s.ok(dir, &["log", "key"]).trim().to_owned();
    let state = dir.join("lp-state");
    let r = s.json(
        dir,
        &[
            "log",
            "prove",
            "aiops/lp:1",
            "--log-key",
            &key,
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    let kinds: Vec<String> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let entry: Value = serde_json::from_str(e["entry"].as_str().unwrap()).unwrap();
            match entry["details"]["kind"].as_str() {
                Some(k) => format!("{} {k}", e["type"].as_str().unwrap()),
                None => e["type"].as_str().unwrap().to_owned(),
            }
        })
        .collect();
    assert!(
        kinds.contains(&"version.published".to_owned())
            && kinds.contains(&"attachment.added sbom".to_owned()),
        "{kinds:?}"
    );
}
