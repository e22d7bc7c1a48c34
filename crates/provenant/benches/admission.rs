//! What the policy gate costs, against a real `provenant serve` with the
//! shipped policy library (`policies/`, data `policies/data.example.json`):
//!
//! - admission reviews (`POST /admission`, the Pod fixture naming a
//!   published version) from CONCURRENCY clients on loopback for SECONDS
//!   each: once with one review repeated (decisions come from the cache),
//!   once with a new workload name in every review (each one evaluated and
//!   recorded in the log); p50, p99 and reviews per second;
//! - `provenant gate <ref>` end to end (process start to verdict), p50/p99
//!   of RUNS runs (uncached: each asks for a new environment);
//! - `provenant policy eval` and OPA's `opa eval` (process start to
//!   decision, the same modules, data and input), p50 of RUNS runs each and
//!   the ratio; OPA is `$PROVENANT_OPA`, else `opa` on PATH (skipped with a
//!   note when absent).
//!
//! `cargo bench -p provenant --bench admission` (env CONCURRENCY, SECONDS,
//! RUNS). Prints one JSON object.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::Digest as _;

const BIN: &str = env!("CARGO_BIN_EXE_provenant");
const PLACEHOLDER: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p / 100.0).round() as usize;
    v[i.min(v.len() - 1)]
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn opa() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROVENANT_OPA") {
        return Some(PathBuf::from(p));
    }
    let found = Command::new("opa")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found.then(|| PathBuf::from("opa"))
}

/// Wall time of running `cmd` to completion, in ms; `ok` says which exit
/// statuses are expected.
fn timed(mut cmd: Command, ok: &[i32]) -> f64 {
    let t = Instant::now();
    let out = cmd.output().unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let code = out.status.code().unwrap_or(-1);
    assert!(
        ok.contains(&code),
        "{cmd:?}: exit {code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ms
}

/// Reviews from `concurrency` clients for `seconds`; `review(i)` is the
/// i-th body. Returns (latencies in ms, reviews per second).
async fn load(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    concurrency: u64,
    seconds: u64,
    review: impl Fn(u64) -> String + Send + Sync + 'static,
) -> (Vec<f64>, f64) {
    let review = std::sync::Arc::new(review);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, token) = (http.clone(), url.to_owned(), token.to_owned());
        let (review, counter) = (review.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let body = review(i);
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                let v: Value = r.json().await.unwrap();
                assert!(v["response"]["allowed"].is_boolean(), "{v}");
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    (all, rate)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let concurrency = env("CONCURRENCY", 16);
    let seconds = env("SECONDS", 10);
    let runs = env("RUNS", 20);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
            .unwrap();
    let policies = workspace().join("policies");
    let data_file = policies.join("data.example.json");
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data)
            .arg("--policy-dir")
            .arg(&policies)
            .arg("--policy-data")
            .arg(&data_file)
            .args([
                "--admission-env",
                "production",
                "--decision-cache-ttl",
                "600",
            ])
            .env("PROVENANT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let token_path = data.join("admin.token");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(token_path.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = std::fs::read_to_string(&token_path)
        .unwrap()
        .trim()
        .to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // One published version for the reviews to name.
    let blob = b"fraud detector weights".to_vec();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&blob)));
    let st: Value = http
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(&token)
        .json(&json!({"digest": digest, "size": blob.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if let Some(id) = st["id"].as_str() {
        http.patch(format!("{base}/api/v1/uploads/{id}"))
            .bearer_auth(&token)
            .header("Upload-Offset", "0")
            .body(blob.clone())
            .send()
            .await
            .unwrap();
    }
    let published: Value = http
        .post(format!(
            "{base}/api/v1/models/team-a%2Ffraud-detector/versions"
        ))
        .bearer_auth(&token)
        .json(
            &json!({"files": [{"path": "model.bin", "digest": digest, "size": blob.len()}],
                      "metadata": {"license": "apache-2.0"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let version = published["version"]["digest"].as_str().unwrap().to_owned();
    let reference = format!("team-a/fraud-detector@{version}");

    let fixture = std::fs::read_to_string(workspace().join("testdata/admission/pod.json"))
        .unwrap()
        .replace(PLACEHOLDER, &version);
    let template: Value = serde_json::from_str(&fixture).unwrap();
    let url = format!("{base}/admission");

    // Warm up, then the cached case: one review, decided once.
    let same = fixture.clone();
    let _ = load(&http, &url, &token, 2, 1, move |_| same.clone()).await;
    let same = fixture.clone();
    let (cached, cached_rate) = load(&http, &url, &token, concurrency, seconds, move |_| {
        same.clone()
    })
    .await;
    // Uncached: a new workload name in every review (a new input).
    let (uncached, uncached_rate) = load(&http, &url, &token, concurrency, seconds, move |i| {
        let mut v = template.clone();
        let name = format!("scorer-{i}");
        v["request"]["name"] = json!(name);
        v["request"]["object"]["metadata"]["name"] = json!(name);
        v.to_string()
    })
    .await;

    // `provenant gate` end to end, each run a new environment (uncached).
    let gate: Vec<f64> = (0..runs)
        .map(|i| {
            let mut cmd = Command::new(BIN);
            cmd.args(["gate", &reference, "--env", &format!("bench-{i}")])
                .env("PROVENANT_URL", &base)
                .env("PROVENANT_TOKEN", &token)
                .env("PROVENANT_CONFIG", dir.path().join("none.toml"))
                .stdout(Stdio::null());
            timed(cmd, &[0, 1])
        })
        .collect();

    // The same decision by `provenant policy eval` and by `opa eval`.
    let input_path = dir.path().join("input.json");
    let input: Value = http
        .get(format!(
            "{base}/api/v1/policy/input?ref={}&action=deploy&env=production",
            reference
                .replace('/', "%2F")
                .replace(':', "%3A")
                .replace('@', "%40")
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    std::fs::write(&input_path, input.to_string()).unwrap();
    let ours: Vec<f64> = (0..runs)
        .map(|_| {
            let mut cmd = Command::new(BIN);
            cmd.args(["policy", "eval", "--input"])
                .arg(&input_path)
                .arg("--data")
                .arg(&data_file)
                .arg(&policies)
                .env("PROVENANT_CONFIG", dir.path().join("none.toml"))
                .stdout(Stdio::null());
            timed(cmd, &[0, 1])
        })
        .collect();
    let modules: Vec<PathBuf> = walk(&policies);
    let theirs: Option<Vec<f64>> = opa().map(|opa| {
        (0..runs)
            .map(|_| {
                let mut cmd = Command::new(&opa);
                cmd.args(["eval", "--format", "json", "-i"])
                    .arg(&input_path);
                for m in &modules {
                    cmd.arg("-d").arg(m);
                }
                cmd.arg("-d")
                    .arg(&data_file)
                    .arg("data.provenant")
                    .stdout(Stdio::null());
                timed(cmd, &[0])
            })
            .collect()
    });
    drop(server);

    let mut out = json!({
        "concurrency": concurrency,
        "seconds_each": seconds,
        "admission_cached_p50_ms": pct(cached.clone(), 50.0),
        "admission_cached_p99_ms": pct(cached.clone(), 99.0),
        "admission_cached_reviews_per_s": cached_rate,
        "admission_uncached_p50_ms": pct(uncached.clone(), 50.0),
        "admission_uncached_p99_ms": pct(uncached.clone(), 99.0),
        "admission_uncached_reviews_per_s": uncached_rate,
        "gate_cli_p50_ms": pct(gate.clone(), 50.0),
        "gate_cli_p99_ms": pct(gate, 99.0),
        "policy_eval_cli_p50_ms": pct(ours.clone(), 50.0),
    });
    match theirs {
        Some(t) => {
            out["opa_eval_cli_p50_ms"] = json!(pct(t.clone(), 50.0));
            out["policy_eval_over_opa_eval"] = json!(pct(ours, 50.0) / pct(t, 50.0));
        }
        None => {
            out["opa_eval_cli_p50_ms"] = json!("not measured: OPA not found (PROVENANT_OPA)");
        }
    }
    println!("{out}");
}

/// The decision modules of a policy directory (`.rego`, not `_test.rego`,
/// no hidden entries), as OPA is given them.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            out.extend(walk(&path));
        } else if name.ends_with(".rego") && !name.ends_with("_test.rego") {
            out.push(path);
        }
    }
    out.sort();
    out
}
