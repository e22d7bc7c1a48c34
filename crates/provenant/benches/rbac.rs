//! What authorisation costs: VERSIONS versions over NAMESPACES namespaces
//! (one model each, labels stage=prod|dev) through the HTTP API of a real
//! `provenant serve`, then the registry benchmark's listing and search
//! queries timed twice, alternately: as the administrator (every namespace
//! visible: no filter, the path every request took before roles existed) and
//! as a principal with the viewer role in ROLES of the namespaces (each query
//! filtered to them in the database). The `scoped_*` queries name one
//! namespace both may read (a model's versions by label or by words, models
//! by a prefix): both sides get the same answer, so their ratio is the price
//! of authorisation. The others list across every namespace: both sides get
//! full pages (100 versions), but the reader's are drawn from its tenth of
//! the registry, so the database walks about ten rows per row returned and
//! the ratio is that selectivity. Prints one JSON object with both sides'
//! p50s and the ratios (filtered over unfiltered: 1.00 is free).
//!
//! `LAYOUT=registry` puts every version in one namespace the reader may
//! read (100 models), among NAMESPACES namespaces, and times the registry
//! benchmark's three queries: the same answers both sides.
//!
//! `cargo bench -p provenant --bench rbac` (env LAYOUT, VERSIONS, NAMESPACES, ROLES,
//! QUERIES, CONCURRENCY, DATABASE_URL for PostgreSQL).
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

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let versions = env("VERSIONS", 40_000);
    let namespaces = env("NAMESPACES", 1_000);
    let roles = env("ROLES", 100);
    let queries = env("QUERIES", 300);
    let concurrency = env("CONCURRENCY", 16);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
            .unwrap();
    let data = dir.path().join("data");
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
    let admin = std::fs::read_to_string(&token_path)
        .unwrap()
        .trim()
        .to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Value| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    let blob = b"weights".to_vec();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&blob)));
    let st: Value = call(
        reqwest::Method::POST,
        "/api/v1/uploads",
        &admin,
        json!({"digest": digest, "size": blob.len()}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    if let Some(id) = st["id"].as_str() {
        let r = http
            .patch(format!("{base}/api/v1/uploads/{id}"))
            .bearer_auth(&admin)
            .header("Upload-Offset", "0")
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    // LAYOUT=registry: the registry benchmark's data (every version in one
    // namespace, ns-0000, over 100 models) among NAMESPACES namespaces, the
    // others empty; the reader may read ns-0000, so both sides get the same
    // answers to the registry benchmark's queries. Otherwise versions
    // round-robin over the namespaces, newest spread evenly.
    let registry_layout = std::env::var("LAYOUT").is_ok_and(|l| l == "registry");
    if registry_layout {
        for i in 1..namespaces {
            let r = call(
                reqwest::Method::POST,
                "/api/v1/namespaces",
                &admin,
                json!({"name": format!("ns-{i:04}")}),
            )
            .await
            .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    }
    let per_ns = versions / namespaces;
    let jobs: Vec<(usize, usize)> = if registry_layout {
        (0..versions).map(|v| (0, v)).collect()
    } else {
        (0..per_ns)
            .flat_map(|j| (0..namespaces).map(move |i| (i, j)))
            .collect()
    };
    let mut stream = futures::stream::iter(jobs.into_iter().map(|(i, j)| {
        let http = http.clone();
        let base = base.clone();
        let admin = admin.clone();
        let digest = digest.clone();
        async move {
            let stage = if (i + j) % 3 == 0 { "prod" } else { "dev" };
            let body = json!({
                "files": [{"path": "model.bin", "digest": digest, "size": 7}],
                "metadata": {"framework": "pytorch", "description": "anomaly detector", "x-run": j},
                "labels": {"stage": stage},
            });
            let model = if registry_layout {
                format!("ns-0000%2Fmodel-{:03}", j % 100)
            } else {
                format!("ns-{i:04}%2Fmodel")
            };
            let r = http
                .post(format!("{base}/api/v1/models/{model}/versions"))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    }))
    .buffer_unordered(concurrency);
    while stream.next().await.is_some() {}

    // A viewer in every (namespaces / roles)-th namespace.
    let r = call(
        reqwest::Method::POST,
        "/api/v1/principals",
        &admin,
        json!({"name": "reader"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let step = (namespaces / roles).max(1);
    for k in 0..roles {
        let r = call(
            reqwest::Method::PUT,
            &format!("/api/v1/namespaces/ns-{:04}/roles/reader", k * step),
            &admin,
            json!({"role": "viewer"}),
        )
        .await
        .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let created: Value = call(
        reqwest::Method::POST,
        "/api/v1/tokens",
        &admin,
        json!({"name": "bench", "owner": "reader"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let reader = created["token"].as_str().unwrap().to_owned();

    async fn time(http: &reqwest::Client, url: &str, token: &str) -> f64 {
        let t = Instant::now();
        let r = http.get(url).bearer_auth(token).send().await.unwrap();
        assert!(r.status().is_success(), "{url}");
        let v: Value = r.json().await.unwrap();
        let n = v["items"].as_array().map_or(0, Vec::len);
        assert!(n > 0, "{url}: empty page");
        t.elapsed().as_secs_f64() * 1000.0
    }
    // Scoped to one namespace both may read (the registry benchmark's
    // queries: one model's versions by label or words, models by prefix):
    // the same answer on both sides, so the ratio is the price of
    // authorisation alone. Then the listings across every namespace, where
    // the reader's answer is its tenth of the registry: the database walks
    // about ten rows for each one it returns, and the ratio shows that
    // selectivity, not a cost of checking.
    let cases: Vec<(&str, String)> = if registry_layout {
        // The registry benchmark's three queries.
        vec![
            (
                "registry_model_and_label",
                format!(
                    "{base}/api/v1/models/ns-0000%2Fmodel-007/versions?label=stage%3Dprod&limit=100"
                ),
            ),
            (
                "registry_label_only",
                format!("{base}/api/v1/versions?label=stage%3Dprod&limit=100"),
            ),
            (
                "registry_models_prefix",
                format!("{base}/api/v1/models?prefix=ns-0000%2Fmodel-0&limit=100"),
            ),
        ]
    } else {
        Vec::from([
            (
                "scoped_model_label",
                format!(
                    "{base}/api/v1/models/ns-0000%2Fmodel/versions?label=stage%3Dprod&limit=100"
                ),
            ),
            (
                "scoped_model_text",
                format!("{base}/api/v1/models/ns-0000%2Fmodel/versions?q=anomaly&limit=100"),
            ),
            (
                "scoped_models_prefix",
                format!("{base}/api/v1/models?prefix=ns-0000%2F&limit=100"),
            ),
            (
                "versions_label",
                format!("{base}/api/v1/versions?label=stage%3Dprod&limit=100"),
            ),
            ("versions_all", format!("{base}/api/v1/versions?limit=100")),
            (
                "search",
                format!("{base}/api/v1/search?q=anomaly&limit=100"),
            ),
            ("models", format!("{base}/api/v1/models?limit=100")),
        ])
    };
    let mut out = serde_json::Map::new();
    for (name, url) in &cases {
        // Warm both, then alternate so that noise hits both sides alike.
        for _ in 0..5 {
            time(&http, url, &admin).await;
            time(&http, url, &reader).await;
        }
        let (mut a, mut r) = (Vec::new(), Vec::new());
        for _ in 0..queries {
            a.push(time(&http, url, &admin).await);
            r.push(time(&http, url, &reader).await);
        }
        let (a, r) = (p50(a), p50(r));
        out.insert(format!("{name}_admin_p50_ms"), json!(a));
        out.insert(format!("{name}_rbac_p50_ms"), json!(r));
        out.insert(format!("{name}_ratio"), json!(r / a));
    }
    drop(server);
    out.insert(
        "versions".into(),
        json!(if registry_layout {
            versions
        } else {
            per_ns * namespaces
        }),
    );
    out.insert(
        "layout".into(),
        json!(if registry_layout {
            "registry"
        } else {
            "spread"
        }),
    );
    out.insert("namespaces".into(), json!(namespaces));
    out.insert("roles".into(), json!(roles));
    out.insert(
        "backend".into(),
        json!(if std::env::var("DATABASE_URL").is_ok() {
            "postgres"
        } else {
            "sqlite"
        }),
    );
    println!("{}", Value::Object(out));
}
