//! Training provenance end to end through the real binary, on SQLite and
//! PostgreSQL: capture in a git repository with an SSH-signed commit, attest,
//! push --provenance, show, lineage, impact, reproduce; and bad input
//! refused with the field named and nothing stored.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use provenant_testkit::{ServeDatabase, require_program};
use serde_json::{Value, json};

use crate::{BIN, Server, start, write};

fn run(dir: &Path, cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the CLI with extra environment variables (CI detection, image digest).
fn cli_env(s: &Server, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(cwd)
        .env("PROVENANT_URL", &s.url)
        .env("PROVENANT_TOKEN", &s.token)
        .env("PROVENANT_CONFIG", cwd.join("no-config.toml"));
    for k in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "BUILDKITE",
        "JENKINS_URL",
        "PROVENANT_IMAGE_DIGEST",
        "VIRTUAL_ENV",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok_env(s: &Server, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = cli_env(s, cwd, args, env);
    assert!(
        out.status.success(),
        "provenant {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn model(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let m = dir.join(name);
    write(&m.join("weights.bin"), content);
    write(&m.join("config/model.json"), br#"{"layers": 3}"#);
    m
}

/// A statement with `predicate` about `subject_hex`, signed with k.pem, as the attach API body.
fn signed_body(dir: &Path, subject_hex: &str, predicate: Value) -> Value {
    let key = provenant_attest::PrivateKey::from_pem_file(&dir.join("k.pem"), None).unwrap();
    let st = provenant_attest::Statement::new(
        vec![provenant_attest::Subject::sha256("m", subject_hex)],
        "https://slsa.dev/provenance/v1",
        predicate,
    );
    let bundle = provenant_attest::sign_statement(&st, &key, &[]).unwrap();
    json!({
        "bundle": serde_json::from_str::<Value>(&bundle.to_json()).unwrap(),
        "public_key": std::fs::read_to_string(dir.join("k.pub")).unwrap(),
    })
}

fn provenance_count(s: &Server, reference_path: &str) -> usize {
    let (st, v) = s.api(
        "GET",
        &format!("/api/v1/models/{reference_path}/provenance"),
        Value::Null,
    );
    assert_eq!(st, 200, "{v}");
    v.as_array().unwrap().len()
}

pub fn provenance_flow(s: &Server, dir: &Path) {
    if !require_program("git") || !require_program("ssh-keygen") {
        return;
    }
    // Training repository with an SSH-signed commit by an allowed signer.
    let repo = dir.join("train");
    write(&repo.join("train.py"), b"print('training')\n");
    run(&repo, "git", &["init", "-q", "-b", "main"]);
    run(&repo, "git", &["config", "user.email", "alice@example.com"]);
    run(&repo, "git", &["config", "user.name", "Alice"]);
    run(
        &repo,
        "git",
        &[
            "remote",
            "add",
            "origin",
            "https://git.example/aiops/train.git",
        ],
    );
    run(
        dir,
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "alice",
            "-f",
            "alice_ssh",
        ],
    );
    run(&repo, "git", &["config", "gpg.format", "ssh"]);
    run(
        &repo,
        "git",
        &[
            "config",
            "user.signingkey",
            dir.join("alice_ssh.pub").to_str().unwrap(),
        ],
    );
    run(&repo, "git", &["add", "train.py"]);
    run(
        &repo,
        "git",
        &["commit", "-q", "-S", "-m", "training script"],
    );
    let pubkey = std::fs::read_to_string(dir.join("alice_ssh.pub")).unwrap();
    write(
        &dir.join("allowed_signers"),
        format!("alice@example.com namespaces=\"git\" {pubkey}").as_bytes(),
    );
    let commit = String::from_utf8(
        Command::new("git")
            .current_dir(&repo)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();

    // Datasets.
    write(
        &dir.join("flows/flows.csv"),
        b"src,dst,bytes\n10.0.0.1,10.0.0.2,1500\n",
    );
    write(&dir.join("flows/labels/y.csv"), b"y\n0\n");
    write(&dir.join("data2/extra.csv"), b"more\n");
    let ds = s.json(dir, &["dataset", "hash", "flows"]);
    let ds_digest = ds["digest"].as_str().unwrap().to_owned();
    assert!(
        ds_digest.starts_with("sha256:") && ds_digest.len() == 71,
        "{ds}"
    );
    assert_eq!(ds["files"], 2);
    assert_eq!(
        s.json(dir, &["digest", "flows"])["digest"],
        ds_digest,
        "dataset digest = OMS root digest"
    );
    let ds2 = s.json(dir, &["dataset", "hash", "data2"])["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let image = format!("sha256:{}", "1e".repeat(32));
    write(&dir.join("params.yaml"), b"epochs: 3\nlayers: [64, 32]\n");

    // A dirty tree is refused (exit 1) unless --allow-dirty.
    write(&repo.join("scratch.txt"), b"x");
    let out = cli_env(s, &repo, &["capture", "--dataset", "../flows"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("scratch.txt"));
    std::fs::remove_file(repo.join("scratch.txt")).unwrap();
    // A malformed image digest names the flag.
    let out = cli_env(s, &repo, &["capture", "--image-digest", "sha256:zz"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--image-digest"));

    let capture = |out: &str, datasets: &[&str], lr: &str, extra: &[&str]| {
        let mut args = vec!["capture"];
        for d in datasets {
            args.extend(["--dataset", d]);
        }
        args.extend([
            "--param",
            lr,
            "--param",
            "optimizer=adam",
            "--params",
            "../params.yaml",
            "--seed",
            "42",
            "--allowed-signers",
            "../allowed_signers",
            "--out",
            out,
        ]);
        args.extend(extra);
        args.extend(["--", "python", "train.py", "--epochs", "3"]);
        ok_env(
            s,
            &repo,
            &args,
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SERVER_URL", "https://github.com"),
                ("GITHUB_REPOSITORY", "aiops/train"),
                ("GITHUB_RUN_ID", "1234"),
                ("GITHUB_RUN_ATTEMPT", "1"),
                (
                    "GITHUB_WORKFLOW_REF",
                    "aiops/train/.github/workflows/train.yml@refs/heads/main",
                ),
                ("PROVENANT_IMAGE_DIGEST", &image),
            ],
        );
    };
    let extra_ref = format!("s3://datasets/flows-2026-11@sha256:{}", "ab".repeat(32));
    capture(
        "../recipe-a.json",
        &["../flows", &extra_ref],
        "lr=0.01",
        &[],
    );
    let r = read_json(&dir.join("recipe-a.json"));
    assert_eq!(r["source"]["commit"], commit.as_str());
    assert_eq!(
        r["source"]["repository"],
        "https://git.example/aiops/train.git"
    );
    assert_eq!(r["source"]["signature"]["status"], "verified", "{r}");
    assert_eq!(r["source"]["signature"]["signer"], "alice@example.com");
    assert_eq!(r["datasets"][0]["digest"], ds_digest.as_str());
    assert_eq!(r["datasets"][1]["uri"], "s3://datasets/flows-2026-11");
    assert_eq!(
        r["hyperparameters"],
        json!({"lr": 0.01, "optimizer": "adam", "epochs": 3, "layers": [64, 32]})
    );
    assert_eq!(r["seeds"], json!([42]));
    assert_eq!(
        r["imageDigest"],
        image.as_str(),
        "from PROVENANT_IMAGE_DIGEST"
    );
    assert_eq!(r["entrypoint"], "python");
    assert_eq!(r["arguments"], json!(["train.py", "--epochs", "3"]));
    assert_eq!(r["ci"]["system"], "github-actions");
    assert!(!r["environment"]["arch"].as_str().unwrap().is_empty());

    // Attest and push with provenance.
    s.ok(dir, &["keygen", "--out", "k.pem"]);
    let model_a = model(dir, "model-a", &[7u8; 50_000]);
    s.ok(
        dir,
        &[
            "attest",
            "provenance",
            "model-a",
            "--recipe",
            "recipe-a.json",
            "--key",
            "k.pem",
            "--out",
            "prov-a.sigstore.json",
        ],
    );
    let bundle = read_json(&dir.join("prov-a.sigstore.json"));
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let root_a = s.json(dir, &["digest", "model-a"])["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = s.json(
        dir,
        &[
            "push",
            "model-a",
            "--model",
            "aiops/anomaly",
            "--provenance",
            "prov-a.sigstore.json",
            "--provenance-key",
            "k.pub",
        ],
    );
    assert_eq!(p["version"]["reference"], "aiops/anomaly:1");
    assert_eq!(p["provenance"]["summary"]["commit"], commit.as_str());
    let digest_a = p["version"]["digest"].as_str().unwrap().to_owned();

    // show summarises it.
    let v = s.json(dir, &["show", "aiops/anomaly:1"]);
    let prov = &v["provenance"][0]["summary"];
    assert_eq!(
        prov["build_type"],
        "https://provenant.dev/buildtypes/ml-training/v1"
    );
    assert_eq!(
        prov["builder_id"],
        "https://github.com/aiops/train/.github/workflows/train.yml@refs/heads/main"
    );
    assert_eq!(prov["commit_signature"], "verified (alice@example.com)");
    assert_eq!(prov["images"], json!([image]));
    let text = s.ok(dir, &["show", "aiops/anomaly:1"]);
    assert!(
        text.contains("provenance:")
            && text.contains(&commit)
            && text.contains("verified (alice@example.com)"),
        "{text}"
    );

    // A fine-tune of A, on another dataset, verified with the namespace's trusted key.
    s.ok(dir, &["keys", "add", "aiops", "k.pub"]);
    let parent = format!("aiops/anomaly@{digest_a}");
    capture(
        "../recipe-b.json",
        &["../data2"],
        "lr=0.001",
        &["--parent", &parent],
    );
    model(dir, "model-b", &[8u8; 50_000]);
    s.ok(
        dir,
        &[
            "attest",
            "provenance",
            "model-b",
            "--recipe",
            "recipe-b.json",
            "--key",
            "k.pem",
            "--out",
            "prov-b.sigstore.json",
        ],
    );
    let p = s.json(
        dir,
        &[
            "push",
            "model-b",
            "--model",
            "aiops/anomaly-tuned",
            "--provenance",
            "prov-b.sigstore.json",
        ],
    );
    assert_eq!(p["provenance"]["summary"]["parents"], json!([parent]));
    s.ok(
        dir,
        &["alias", "set", "aiops/anomaly-tuned:1", "production"],
    );

    // Lineage: upstream of B reaches A's inputs; downstream of A is B.
    let l = s.json(dir, &["lineage", "aiops/anomaly-tuned:1"]);
    let up: Vec<(String, String, String)> = l["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["version"].as_str().unwrap().into(),
                e["kind"].as_str().unwrap().into(),
                e["input"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        up.contains(&(
            "aiops/anomaly-tuned:1".into(),
            "parent".into(),
            "aiops/anomaly:1".into()
        )),
        "{up:?}"
    );
    assert!(
        up.contains(&(
            "aiops/anomaly:1".into(),
            "dataset".into(),
            ds_digest.clone()
        )),
        "{up:?}"
    );
    assert!(
        up.contains(&(
            "aiops/anomaly-tuned:1".into(),
            "dataset".into(),
            ds2.clone()
        )),
        "{up:?}"
    );
    assert!(up.contains(&("aiops/anomaly:1".into(), "commit".into(), commit.clone())));
    let tree = s.ok(dir, &["lineage", "aiops/anomaly-tuned:1"]);
    assert!(
        tree.contains("parent aiops/anomaly:1") && tree.contains(&format!("dataset {ds_digest}")),
        "{tree}"
    );
    let tree = s.ok(dir, &["lineage", "aiops/anomaly:1"]);
    assert!(tree.contains("└── aiops/anomaly-tuned:1"), "{tree}");
    let dot = s.ok(dir, &["lineage", "aiops/anomaly-tuned:1", "--dot"]);
    assert!(
        dot.starts_with("digraph lineage {")
            && dot.contains("\"aiops/anomaly:1\" -> \"aiops/anomaly-tuned:1\""),
        "{dot}"
    );

    // Impact: the dataset of A affects A directly and B through its parent, and B's alias.
    let i = s.json(dir, &["impact", &format!("dataset:{ds_digest}")]);
    let got: Vec<(String, bool)> = i["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().into(),
                v["direct"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("aiops/anomaly:1".into(), true),
            ("aiops/anomaly-tuned:1".into(), false)
        ]
    );
    assert_eq!(i["aliases"], json!(["aiops/anomaly-tuned#production"]));
    let i = s.json(dir, &["impact", &format!("commit:{commit}")]);
    assert_eq!(i["versions"].as_array().unwrap().len(), 2);
    // An abbreviation names the one commit the registry recorded, from any
    // directory (here no repository at all).
    let i = s.json(dir, &["impact", &format!("commit:{}", &commit[..9])]);
    assert_eq!(i["input"], format!("commit:{commit}"), "{i}");
    assert_eq!(i["versions"].as_array().unwrap().len(), 2);
    let i = s.json(dir, &["impact", &format!("image:{image}")]);
    assert_eq!(i["versions"].as_array().unwrap().len(), 2);
    let i = s.json(dir, &["impact", &format!("dataset:{ds2}")]);
    assert_eq!(i["versions"][0]["version"], "aiops/anomaly-tuned:1");
    let text = s.ok(
        dir,
        &["impact", &format!("dataset:sha256:{}", "00".repeat(32))],
    );
    assert!(text.contains("no version uses"), "{text}");
    s.fails(dir, &["impact", "dataset:sha256:abc"], 2, "invalid input");
    s.fails(dir, &["impact", "model:x"], 2, "unknown input kind");

    // Reproduce: the same recipe rebuilt gives the same files.
    capture(
        "../recipe-a2.json",
        &["../flows", &extra_ref],
        "lr=0.01",
        &[],
    );
    model(dir, "model-a2", &[7u8; 50_000]);
    s.ok(
        dir,
        &[
            "attest",
            "provenance",
            "model-a2",
            "--recipe",
            "recipe-a2.json",
            "--key",
            "k.pem",
            "--out",
            "prov-a2.sigstore.json",
        ],
    );
    // Pushed bare, then attached through the generic attestation path.
    s.ok(
        dir,
        &["push", "model-a2", "--model", "aiops/anomaly-rebuild"],
    );
    let att = s.json(
        dir,
        &[
            "attach",
            "aiops/anomaly-rebuild:1",
            "prov-a2.sigstore.json",
            "--key",
            "k.pub",
        ],
    );
    assert_eq!(att[0]["kind"], "provenance", "{att}");
    assert_eq!(att[0]["summary"]["commit"], commit.as_str(), "{att}");
    let i = s.json(dir, &["impact", &format!("dataset:{ds_digest}")]);
    assert_eq!(i["versions"].as_array().unwrap().len(), 3, "{i}");
    let out = s.ok(
        dir,
        &[
            "reproduce",
            "diff",
            "aiops/anomaly:1",
            "aiops/anomaly-rebuild:1",
        ],
    );
    assert!(out.contains("B reproduces A: yes"), "{out}");
    let out = cli_env(
        s,
        dir,
        &[
            "reproduce",
            "diff",
            "aiops/anomaly:1",
            "aiops/anomaly-tuned:1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("hyperparameters.lr")
            && text.contains("datasets")
            && text.contains("the inputs differ"),
        "{text}"
    );
    let j = s
        .api("GET", "/api/v1/resolve?ref=aiops/anomaly:1", Value::Null)
        .1;
    assert_eq!(j["digest"], digest_a.as_str());
    // check: the rebuilt directory matches; a changed file is named; recipe fields too.
    let out = s.ok(
        dir,
        &[
            "reproduce",
            "check",
            "aiops/anomaly:1",
            "model-a2",
            "--recipe",
            "recipe-a2.json",
        ],
    );
    assert!(out.contains("matches"), "{out}");
    let out = cli_env(
        s,
        dir,
        &[
            "reproduce",
            "check",
            "aiops/anomaly:1",
            "model-b",
            "--recipe",
            "recipe-b.json",
            "--json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["files"][0]["path"], "weights.bin");
    assert_eq!(j["files"][0]["status"], "changed");
    let fields: Vec<&str> = j["recipe"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"hyperparameters.lr") && fields.contains(&"parents"),
        "{fields:?}"
    );

    // Bad input: field named, nothing stored.
    let a_path = "aiops%2Fanomaly/versions/1";
    let before = provenance_count(s, a_path);
    let impact_before = s.json(dir, &["impact", &format!("dataset:{ds_digest}")]);
    let root_hex = root_a.trim_start_matches("sha256:").to_owned();
    let good = read_json(&dir.join("prov-a.sigstore.json"));
    let payload = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(good["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap()
    };
    let predicate: Value = serde_json::from_slice::<Value>(&payload).unwrap()["predicate"].clone();
    let cases: Vec<(Value, &str, &str)> = vec![
        // subject mismatch: B's provenance on A
        (
            json!({"bundle": read_json(&dir.join("prov-b.sigstore.json")), "public_key": std::fs::read_to_string(dir.join("k.pub")).unwrap()}),
            "subject_mismatch",
            "expected sha256:",
        ),
        (
            {
                let mut p = predicate.clone();
                p["buildDefinition"]["externalParameters"]["hyperparameters"] = json!({});
                signed_body(dir, &root_hex, p)
            },
            "invalid_provenance",
            "predicate.buildDefinition.externalParameters.hyperparameters",
        ),
        (
            {
                let mut p = predicate.clone();
                p["buildDefinition"]["resolvedDependencies"][1]["digest"]["sha256"] = json!("XYZ");
                signed_body(dir, &root_hex, p)
            },
            "invalid_provenance",
            "predicate.buildDefinition.resolvedDependencies[1].digest.sha256",
        ),
        (
            {
                let mut p = predicate.clone();
                p["buildDefinition"]["externalParameters"]["datasets"][0]["digest"]["sha256"] =
                    json!("cd".repeat(32));
                signed_body(dir, &root_hex, p)
            },
            "invalid_provenance",
            "unknown dataset reference",
        ),
        (
            {
                // A naming its own fine-tune as parent.
                let b = s
                    .api(
                        "GET",
                        "/api/v1/resolve?ref=aiops/anomaly-tuned:1",
                        Value::Null,
                    )
                    .1;
                let b_digest = b["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
                    .to_owned();
                let mut p = predicate.clone();
                p["buildDefinition"]["externalParameters"]["parents"] =
                    json!([format!("aiops/anomaly-tuned@sha256:{b_digest}")]);
                p["buildDefinition"]["resolvedDependencies"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({
                        "uri": format!("provenant:aiops/anomaly-tuned@sha256:{b_digest}"),
                        "digest": {"sha256": b_digest},
                        "annotations": {"role": "parent"},
                    }));
                signed_body(dir, &root_hex, p)
            },
            "lineage_cycle",
            "predicate.buildDefinition.externalParameters.parents",
        ),
        (
            {
                let mut p = predicate.clone();
                p["buildDefinition"]["resolvedDependencies"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({
                        "uri": format!("provenant:aiops/nope@sha256:{}", "ee".repeat(32)),
                        "digest": {"sha256": "ee".repeat(32)},
                        "annotations": {"role": "parent"},
                    }));
                signed_body(dir, &root_hex, p)
            },
            "invalid_provenance",
            "is not in this registry",
        ),
    ];
    for (body, code, needle) in cases {
        let (st, v) = s.api("POST", &format!("/api/v1/models/{a_path}/provenance"), body);
        assert_eq!(st, 400, "{v}");
        assert_eq!(v["code"], code, "{v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
    assert_eq!(provenance_count(s, a_path), before, "nothing stored");
    assert_eq!(
        s.json(dir, &["impact", &format!("dataset:{ds_digest}")]),
        impact_before,
        "no edge stored"
    );
    // The client refuses a mismatching subject before publishing.
    s.fails(
        dir,
        &[
            "push",
            "model-b",
            "--model",
            "aiops/wrong",
            "--provenance",
            "prov-a.sigstore.json",
        ],
        1,
        "subject does not match",
    );
    s.fails(dir, &["show", "aiops/wrong"], 2, "not found");
    // attest refuses a recipe missing a required field, naming it.
    let mut r = read_json(&dir.join("recipe-a.json"));
    r.as_object_mut().unwrap().remove("imageDigest");
    write(&dir.join("recipe-noimage.json"), r.to_string().as_bytes());
    s.fails(
        dir,
        &[
            "attest",
            "provenance",
            "model-a",
            "--recipe",
            "recipe-noimage.json",
            "--key",
            "k.pem",
        ],
        1,
        "container image digest",
    );
    r["hyperparameters"] = json!("fast");
    write(&dir.join("recipe-bad.json"), r.to_string().as_bytes());
    s.fails(
        dir,
        &[
            "attest",
            "provenance",
            "model-a",
            "--recipe",
            "recipe-bad.json",
            "--key",
            "k.pem",
        ],
        2,
        "recipe.hyperparameters",
    );
    drop(model_a);

    // The build type's schema is published.
    let (st, schema) = s.api(
        "GET",
        "/api/v1/schemas/ml-training-build-type.json",
        Value::Null,
    );
    assert_eq!(st, 200);
    assert_eq!(
        schema["properties"]["buildDefinition"]["properties"]["buildType"]["const"],
        "https://provenant.dev/buildtypes/ml-training/v1"
    );
}

provenant_testkit::both!(sync provenance_flow, |db: &ServeDatabase| {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), db.url());
    provenance_flow(&s, dir.path());
});

/// The registry's policy may make inputs optional (`serve --provenance-optional`).
#[test]
fn provenance_policy_can_make_inputs_optional() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let relaxed = crate::start_with(
        &d.join("relaxed"),
        None,
        &["--provenance-optional", "image-digest,hyperparameters"],
    );
    let strict = start(&d.join("strict"), None);
    model(d, "m", &[1u8; 1000]);
    relaxed.ok(d, &["keygen", "--out", "k.pem"]);
    let root = relaxed.json(d, &["digest", "m"])["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let sha = "ab".repeat(32);
    let commit = "c".repeat(40);
    let predicate = json!({
        "buildDefinition": {
            "buildType": "https://provenant.dev/buildtypes/ml-training/v1",
            "externalParameters": {
                "entrypoint": "train.py",
                "datasets": [{"uri": "s3://d/flows", "digest": {"sha256": sha}}],
                "source": {"repository": "https://git.example/t.git", "commit": commit},
            },
            "resolvedDependencies": [
                {"uri": "git+https://git.example/t.git", "digest": {"gitCommit": commit}, "annotations": {"role": "source"}},
                {"uri": "s3://d/flows", "digest": {"sha256": sha}, "annotations": {"role": "dataset"}},
            ],
        },
        "runDetails": {"builder": {"id": "https://ci.example/train"}},
    });
    for (s, status) in [(&relaxed, 201), (&strict, 400)] {
        s.ok(d, &["push", "m", "--model", "ml/m"]);
        let (st, v) = s.api(
            "POST",
            "/api/v1/models/ml%2Fm/versions/1/provenance",
            signed_body(d, &root, predicate.clone()),
        );
        assert_eq!(st, status, "{v}");
        if status == 400 {
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .contains("predicate.buildDefinition.externalParameters.hyperparameters"),
                "{v}"
            );
        }
    }
    let i = relaxed.json(d, &["impact", &format!("dataset:sha256:{sha}")]);
    assert_eq!(i["versions"][0]["version"], "ml/m:1");
}
