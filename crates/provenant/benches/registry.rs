//! Provenant side of `bench/registry.sh`: VERSIONS versions over MODELS models
//! through the HTTP API of a real `provenant serve` (the binary built with this
//! bench), labels stage=prod|dev and team=t<k> on each, then the three queries
//! the MLflow side runs. Prints one JSON object.
//!
//! `cargo bench -p provenant --bench registry` (env VERSIONS, MODELS, QUERIES,
//! CONCURRENCY, DATABASE_URL for PostgreSQL; KEEP=1 keeps the data directory
//! and prints where; DATA=DIR times the queries again on such a directory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use sha2::Digest as _;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// Kills the server however the benchmark ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// A single-threaded client keeps the load generator's own CPU use small on
// this 2-core machine, so the figure is the server's throughput.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let versions = env("VERSIONS", 100_000);
    let models = env("MODELS", 1_000);
    let queries = env("QUERIES", 50);
    let concurrency = env("CONCURRENCY", 16);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
            .unwrap();
    // DATA=DIR reruns the queries on a kept data directory (no creation).
    let reuse = std::env::var_os("DATA").map(std::path::PathBuf::from);
    let data = reuse.clone().unwrap_or_else(|| dir.path().join("data"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provenant"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(&data)
    .env("PROVENANT_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Ok(db) = std::env::var("DATABASE_URL") {
        cmd.args(["--database-url", &db]);
    }
    let server = Server(cmd.spawn().unwrap());
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
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    // One shared weights blob; distinct metadata makes each version distinct.
    let blob = b"weights".to_vec();
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
        let r = http
            .patch(format!("{base}/api/v1/uploads/{id}"))
            .bearer_auth(&token)
            .header("Upload-Offset", "0")
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    let per_model = versions / models;
    let total = per_model * models;
    let started = Instant::now();
    let jobs = (0..if reuse.is_some() { 0 } else { per_model })
        .flat_map(|j| (0..models).map(move |i| (i, j)));
    let mut stream = futures::stream::iter(jobs.map(|(i, j)| {
        let http = http.clone();
        let base = base.clone();
        let token = token.clone();
        let digest = digest.clone();
        async move {
            let stage = if (i + j) % 3 == 0 { "prod" } else { "dev" };
            let body = json!({
                "files": [{"path": "model.bin", "digest": digest, "size": 7}],
                "metadata": {"framework": "pytorch", "x-run": j},
                "labels": {"stage": stage, "team": format!("t{}", i % 10)},
            });
            let r = http
                .post(format!(
                    "{base}/api/v1/models/bench%2Fmodel-{i:04}/versions"
                ))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    }))
    .buffer_unordered(concurrency);
    while stream.next().await.is_some() {}
    let create_s = started.elapsed().as_secs_f64();
    // How long the transparency log takes to take in every publish after the
    // last one returned (its sequencer works behind the publishes); the
    // queries start once it has.
    let log_wait = Instant::now();
    let log_caught_up_ms = if reuse.is_none() {
        let total = (versions / models) * models;
        loop {
            let text = http
                .get(format!("{base}/log/checkpoint"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let size: usize = text
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if size >= total {
                break Some(log_wait.elapsed().as_secs_f64() * 1000.0);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else {
        None
    };

    async fn timed(http: &reqwest::Client, token: &str, urls: Vec<String>) -> Vec<f64> {
        let mut out = Vec::new();
        for u in urls {
            let t = Instant::now();
            let r = http.get(&u).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success());
            let v: Value = r.json().await.unwrap();
            assert!(
                v["items"].as_array().is_some_and(|a| !a.is_empty()),
                "{u}: empty"
            );
            out.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        out
    }
    // The HTTP floor: an authenticated round trip that reads nothing.
    let mut floor = Vec::new();
    for _ in 0..queries {
        let t = Instant::now();
        let r = http
            .get(format!("{base}/api/v1/whoami"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let _: Value = r.json().await.unwrap();
        floor.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let by_model = timed(&http, &token, (0..queries).map(|k| format!("{base}/api/v1/models/bench%2Fmodel-{:04}/versions?label=stage%3Dprod&limit=100", k * 7 % models)).collect()).await;
    let tag_only = timed(
        &http,
        &token,
        (0..queries.max(5))
            .map(|_| format!("{base}/api/v1/versions?label=stage%3Dprod&limit=100"))
            .collect(),
    )
    .await;
    let prefix = timed(
        &http,
        &token,
        (0..queries)
            .map(|k| {
                format!(
                    "{base}/api/v1/models?prefix=bench%2Fmodel-0{}&limit=100",
                    k % 10
                )
            })
            .collect(),
    )
    .await;
    drop(server);
    if reuse.is_none() && std::env::var_os("KEEP").is_some() {
        eprintln!("data kept in {}", dir.keep().join("data").display());
    }
    println!(
        "{}",
        json!({
            "peer": "provenant",
            "backend": if std::env::var("DATABASE_URL").is_ok() { "postgres" } else { "sqlite" },
            "versions": total,
            "create_per_s": total as f64 / create_s,
            "model_and_label_p50_ms": pct(by_model.clone(), 50.0),
            "model_and_label_p95_ms": pct(by_model, 95.0),
            "label_only_first100_p50_ms": pct(tag_only, 50.0),
            "name_prefix_p95_ms": pct(prefix, 95.0),
            "http_floor_p50_ms": pct(floor, 50.0),
            "log_caught_up_ms": log_caught_up_ms,
        })
    );
}
