//! End-to-end: the README flow through the real binary (server + CLI), on the
//! embedded default (SQLite) and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod docs;
mod gate;
mod identity;
mod newcomer;
mod offline;
mod provenance;
mod sboms;
mod signing;
mod tlog;
mod tls;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use provenant_testkit::ServeDatabase;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_provenant");

pub struct Server {
    child: Child,
    url: String,
    token: String,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, database_url: Option<&str>) -> Server {
    start_with(dir, database_url, &[])
}

/// [`start`] with extra `serve` arguments.
fn start_with(dir: &Path, database_url: Option<&str>, extra: &[&str]) -> Server {
    let port = free_port();
    let data = dir.join("data");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(&data)
    .env_remove("PROVENANT_URL")
    .env_remove("PROVENANT_TOKEN")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(db) = database_url {
        cmd.args(["--database-url", db]);
    }
    cmd.args(extra);
    let child = cmd.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    Server {
        child,
        url,
        token,
        data,
    }
}

impl Server {
    fn cli(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .env("PROVENANT_URL", &self.url)
            .env("PROVENANT_TOKEN", &self.token)
            .env("PROVENANT_CONFIG", cwd.join("no-config.toml"))
            .output()
            .unwrap()
    }

    pub fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.cli(cwd, args);
        assert!(
            out.status.success(),
            "provenant {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, cwd: &Path, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(cwd, &a)).unwrap()
    }

    /// A raw API call (status, JSON body).
    pub fn api(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let resp = reqwest::Client::new()
                .request(method.parse().unwrap(), format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        })
    }

    /// The raw body of a GET.
    pub fn raw_get(&self, path: &str) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let resp = reqwest::Client::new()
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
            resp.bytes().await.unwrap().to_vec()
        })
    }

    pub fn fails(&self, cwd: &Path, args: &[&str], code: i32, needle: &str) {
        let out = self.cli(cwd, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "provenant {args:?}: {err}");
        assert!(
            err.contains(needle),
            "provenant {args:?}: expected {needle:?} in {err}"
        );
    }
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn model_dir(root: &Path) -> PathBuf {
    let m = root.join("model");
    let weights: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
    write(&m.join("model.safetensors"), &weights);
    write(&m.join("a/b"), b"nested");
    write(&m.join("a-c"), b"sorts differently");
    write(&m.join("empty.txt"), b"");
    write(&m.join("tokenizer/vocab.json"), br#"{"a": 1}"#);
    m
}

fn readme_flow(s: &Server, dir: &Path) {
    let model = model_dir(dir);
    write(
        &dir.join("meta.yaml"),
        b"framework: pytorch\ntask: anomaly-detection\ndescription: Netflow anomaly detector\nmetrics:\n  f1: 0.91\n",
    );
    // Push, then push again (idempotent, nothing uploaded).
    let r = s.json(
        dir,
        &[
            "push",
            "model",
            "--model",
            "aiops/anomaly",
            "--metadata",
            "meta.yaml",
            "--label",
            "stage=staging",
        ],
    );
    assert_eq!(r["created"], true);
    assert_eq!(r["uploaded_blobs"], 5);
    assert_eq!(r["version"]["reference"], "aiops/anomaly:1");
    let digest = r["version"]["digest"].as_str().unwrap().to_owned();
    let r = s.json(
        dir,
        &[
            "push",
            "model",
            "--model",
            "aiops/anomaly",
            "--metadata",
            "meta.yaml",
        ],
    );
    assert_eq!(
        (r["created"].as_bool(), r["uploaded_blobs"].as_u64()),
        (Some(false), Some(0))
    );
    // A second version differing in one file uploads only that file.
    write(&model.join("empty.txt"), b"now with content");
    let r = s.json(
        dir,
        &[
            "push",
            "model",
            "--model",
            "aiops/anomaly",
            "--metadata",
            "meta.yaml",
        ],
    );
    assert_eq!(
        (
            r["version"]["number"].as_i64(),
            r["uploaded_blobs"].as_u64(),
            r["skipped_blobs"].as_u64()
        ),
        (Some(2), Some(1), Some(4))
    );
    write(&model.join("empty.txt"), b"");

    // list / search / show.
    let out = s.ok(dir, &["list"]);
    assert!(
        out.contains("aiops/anomaly") && out.contains("Netflow anomaly detector"),
        "{out}"
    );
    let out = s.ok(dir, &["list", "aiops/anomaly"]);
    assert!(
        out.contains("aiops/anomaly:1") && out.contains("aiops/anomaly:2"),
        "{out}"
    );
    let hits = s.json(dir, &["search", "netflow"]);
    assert_eq!(hits["items"].as_array().unwrap().len(), 2);
    let hits = s.json(dir, &["search", "--label", "stage=staging"]);
    assert_eq!(hits["items"][0]["reference"], "aiops/anomaly:1");
    let v = s.json(dir, &["show", &format!("aiops/anomaly@{digest}")]);
    assert_eq!(v["number"], 1);
    assert_eq!(v["files"].as_array().unwrap().len(), 5);

    // pull: byte-identical, refuses to overwrite, --force replaces.
    s.ok(dir, &["pull", "aiops/anomaly:1", "out"]);
    assert_same_tree(&model, &dir.join("out"));
    s.fails(dir, &["pull", "aiops/anomaly:1", "out"], 2, "--force");
    std::fs::write(dir.join("out/extra"), b"x").unwrap();
    s.ok(dir, &["pull", "aiops/anomaly:1", "out", "--force"]);
    assert_same_tree(&model, &dir.join("out"));

    // aliases, labels, deprecate.
    s.ok(dir, &["alias", "set", "aiops/anomaly:1", "production"]);
    s.ok(dir, &["alias", "set", "aiops/anomaly:2", "production"]);
    let h = s.json(dir, &["alias", "history", "aiops/anomaly", "production"]);
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(
        (h[1]["number"].as_i64(), h[1]["previous_number"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        s.json(dir, &["show", "aiops/anomaly#production"])["number"],
        2
    );
    let v = s.json(
        dir,
        &[
            "label",
            "aiops/anomaly:2",
            "owner=netops",
            "--remove",
            "stage",
        ],
    );
    assert_eq!(v["labels"]["owner"], "netops");
    let v = s.json(
        dir,
        &[
            "deprecate",
            "aiops/anomaly:1",
            "--reason",
            "precision dropped on new traffic",
        ],
    );
    assert_eq!(
        (v["state"].as_str(), v["state_reason"].as_str()),
        (Some("deprecated"), Some("precision dropped on new traffic"))
    );
    s.fails(
        dir,
        &["deprecate", "aiops/anomaly:1", "--reason", "again"],
        2,
        "invalid_state",
    );
    let v = s.json(
        dir,
        &["archive", "aiops/anomaly:1", "--reason", "replaced by 2"],
    );
    assert_eq!(v["state"], "archived");

    // Errors and exit codes.
    s.fails(dir, &["show", "aiops/anomaly:9"], 2, "version_not_found");
    // An SBOM of a registry version: the model component with every file's hash and a model card.
    let bom: Value = serde_json::from_str(&s.ok(
        dir,
        &["sbom", "--model", "aiops/anomaly:2", "--timestamp", "1"],
    ))
    .unwrap();
    let model = &bom["metadata"]["component"];
    assert_eq!(model["type"], "machine-learning-model", "{bom}");
    assert!(bom.to_string().contains("model.safetensors"));
    s.fails(
        dir,
        &["push", "model", "--model", "Bad/Name"],
        2,
        "invalid model name",
    );
    let out = Command::new(BIN)
        .args(["list"])
        .env("PROVENANT_URL", &s.url)
        .env("PROVENANT_TOKEN", "pvt_not_a_token")
        .env("PROVENANT_CONFIG", dir.join("no-config.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a wrong token is a denial");
    #[cfg(unix)]
    {
        let evil = dir.join("evil");
        write(&evil.join("ok.bin"), b"ok");
        std::os::unix::fs::symlink("/etc/hostname", evil.join("leak")).unwrap();
        s.fails(
            dir,
            &["push", "evil", "--model", "aiops/evil"],
            2,
            "points outside the model directory",
        );
    }
}

fn assert_same_tree(a: &Path, b: &Path) {
    let list = |root: &Path| {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push((
                        e.path().strip_prefix(root).unwrap().to_path_buf(),
                        std::fs::read(e.path()).unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    };
    assert!(
        list(a) == list(b),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

/// An upload interrupted half way resumes where it stopped on the next push.
fn resume_after_interruption(s: &Server, dir: &Path) {
    use sha2::Digest as _;
    let big: Vec<u8> = (0..6_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let m = dir.join("big");
    write(&m.join("weights.bin"), &big);
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&big)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let st: Value = http
            .post(format!("{}/api/v1/uploads", s.url))
            .bearer_auth(&s.token)
            .json(&serde_json::json!({"digest": digest, "size": big.len()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = st["id"].as_str().unwrap();
        let resp = http
            .patch(format!("{}/api/v1/uploads/{id}", s.url))
            .bearer_auth(&s.token)
            .header("Upload-Offset", "0")
            .body(big[..2_000_000].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202);
    });
    let r = s.json(dir, &["push", "big", "--model", "aiops/big"]);
    assert_eq!(r["resumed_blobs"], 1);
    assert_eq!(
        r["uploaded_bytes"], 4_000_000,
        "only the missing part is sent"
    );
    s.ok(dir, &["pull", "aiops/big:1", "big-out"]);
    assert_eq!(std::fs::read(dir.join("big-out/weights.bin")).unwrap(), big);
    // Tampering with a stored blob is caught on pull, and nothing is written.
    let hex = digest.trim_start_matches("sha256:");
    let stored = s.data.join("blobs/blobs/sha256").join(&hex[..2]).join(hex);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    s.fails(dir, &["pull", "aiops/big:1", "tampered"], 1, "weights.bin");
    assert!(
        !dir.join("tampered").exists(),
        "a failed pull leaves no directory"
    );
}

/// Pseudo-random bytes (no two seeds alike).
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A large file of a size the server holds no blob of is read once (no
/// hash pass first); one of a held size is hashed first and skipped when
/// the server has it; an undeclared upload an earlier push left resumes
/// only if the file's first bytes are what it received.
fn read_once_flow(s: &Server, dir: &Path) {
    const MIB: usize = 1 << 20;
    let big = noise(9 * MIB + 17, 1);
    let m = dir.join("once");
    write(&m.join("weights.bin"), &big);
    write(&m.join("config.json"), br#"{"layers": 2}"#);
    let r = s.json(dir, &["push", "once", "--model", "aiops/once"]);
    assert_eq!(r["read_once_blobs"], 1, "{r}");
    assert_eq!(r["uploaded_blobs"], 2, "{r}");
    assert_eq!(r["uploaded_bytes"], big.len() + 13, "{r}");
    let files = r["version"]["files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    s.ok(dir, &["pull", "aiops/once:1", "once-out"]);
    assert_same_tree(&m, &dir.join("once-out"));
    // The version names the file by the digest of its bytes.
    let shown = s.json(dir, &["show", "aiops/once:1"]);
    let weights = shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "weights.bin")
        .cloned()
        .unwrap();
    assert_eq!(weights["digest"], sha_hex(&big), "{files:?}");

    // The same file again: its size is held, so it is hashed and skipped.
    let r = s.json(dir, &["push", "once", "--model", "aiops/once-again"]);
    assert_eq!(
        (
            r["read_once_blobs"].as_u64(),
            r["skipped_blobs"].as_u64(),
            r["uploaded_bytes"].as_u64()
        ),
        (Some(0), Some(2), Some(0)),
        "{r}"
    );

    // --hash-first: a new file of a new size, hashed first all the same.
    write(&dir.join("hashed/w.bin"), &noise(8 * MIB + 1, 4));
    let r = s.json(
        dir,
        &["push", "hashed", "--model", "aiops/hashed", "--hash-first"],
    );
    assert_eq!(
        (r["read_once_blobs"].as_u64(), r["uploaded_blobs"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );

    // An earlier push of `later` stopped after 3 MiB of its undeclared
    // upload; another session of the same size holds other bytes.
    let later = noise(10 * MIB + 3, 2);
    let m = dir.join("later");
    write(&m.join("weights.bin"), &later);
    let (status, decoy) = s.api(
        "POST",
        "/api/v1/uploads",
        serde_json::json!({"size": later.len()}),
    );
    assert_eq!(status, 201, "{decoy}");
    let (_, started) = s.api(
        "POST",
        "/api/v1/uploads",
        serde_json::json!({"size": later.len()}),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        for (st, bytes) in [
            (&decoy, noise(MIB, 3)),
            (&started, later[..3 * MIB].to_vec()),
        ] {
            let id = st["id"].as_str().unwrap();
            let resp = http
                .patch(format!("{}/api/v1/uploads/{id}", s.url))
                .bearer_auth(&s.token)
                .header("Upload-Offset", "0")
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 202);
        }
    });
    let r = s.json(dir, &["push", "later", "--model", "aiops/later"]);
    assert_eq!(
        (r["read_once_blobs"].as_u64(), r["resumed_blobs"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(
        r["uploaded_bytes"],
        later.len() - 3 * MIB,
        "only the missing part is sent: {r}"
    );
    s.ok(dir, &["pull", "aiops/later:1", "later-out"]);
    assert_eq!(
        std::fs::read(dir.join("later-out/weights.bin")).unwrap(),
        later
    );
    // The session of other bytes was left alone.
    let (status, st) = s.api(
        "GET",
        &format!("/api/v1/uploads/{}", decoy["id"].as_str().unwrap()),
        Value::Null,
    );
    assert_eq!((status, st["offset"].as_u64()), (200, Some(MIB as u64)));
}

fn sha_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

provenant_testkit::both!(sync readme_flow, |db: &ServeDatabase| {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), db.url());
    readme_flow(&s, dir.path());
    resume_after_interruption(&s, dir.path());
    read_once_flow(&s, dir.path());
    signing::signed_flow(&s, dir.path());
    sboms::sbom_flow(&s, dir.path());
});

#[test]
fn help_lists_every_command() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for c in [
        "serve",
        "login",
        "push",
        "pull",
        "show",
        "list",
        "search",
        "label",
        "alias",
        "deprecate",
        "archive",
        "dataset",
        "capture",
        "attest",
        "lineage",
        "impact",
        "reproduce",
        "gate",
        "decisions",
        "policy",
    ] {
        assert!(text.contains(c), "--help lacks {c}");
    }
}

#[test]
fn login_stores_url_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None);
    let cfg = dir.path().join("cfg/config.toml");
    let out = Command::new(BIN)
        .args(["login", "--url", &s.url, "--token", &s.token])
        .env("PROVENANT_CONFIG", &cfg)
        .env_remove("PROVENANT_URL")
        .env_remove("PROVENANT_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(&s.token) && text.contains(&s.url));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Commands now work from the config file alone.
    let out = Command::new(BIN)
        .args(["list"])
        .env("PROVENANT_CONFIG", &cfg)
        .env_remove("PROVENANT_URL")
        .env_remove("PROVENANT_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A wrong token is refused at login and nothing is written.
    let cfg2 = dir.path().join("cfg2/config.toml");
    let out = Command::new(BIN)
        .args(["login", "--url", &s.url, "--token", "pvt_wrong"])
        .env("PROVENANT_CONFIG", &cfg2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!cfg2.exists());
}
