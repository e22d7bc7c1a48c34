//! `provenant impact` at scale: a lineage of 100,000 versions (1,000 models)
//! and 10,000 datasets, each version using two datasets, one commit and one
//! base image; one version in five is a fine-tune of an earlier one (parent
//! chains up to 4 deep); every model has a `production` alias. Measures
//! `Store::lineage_impact` (the recursive CTE behind `GET /api/v1/impact`)
//! for random datasets and commits: p50/p95/p99 in milliseconds, one JSON
//! line per backend.
//!
//! `cargo bench -p provenant-store --bench impact` (env VERSIONS, DATASETS,
//! QUERIES; PostgreSQL from PROVENANT_TEST_POSTGRES_URL, a fresh database).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use provenant_store::Store;
use provenant_testkit::PgTestDb;
use sqlx::AssertSqlSafe;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// Deterministic pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn dataset(d: u64) -> String {
    format!("sha256:{d:064x}")
}

fn commit(c: u64) -> String {
    format!("{c:040x}")
}

/// Multi-row INSERT of `rows` (each `cols` values) in chunks.
async fn insert(pool: &sqlx::AnyPool, table: &str, columns: &str, rows: Vec<Vec<Value>>) {
    let cols = rows.first().map_or(0, Vec::len);
    for chunk in rows.chunks(4000 / cols.max(1)) {
        let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..cols {
                if c > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", i * cols + c + 1));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    Value::I(n) => q.bind(*n),
                    Value::S(s) => q.bind(s.clone()),
                    Value::B(b) => q.bind(b.clone()),
                    Value::N => q.bind(None::<i64>),
                };
            }
        }
        q.execute(pool).await.unwrap();
    }
}

enum Value {
    I(i64),
    S(String),
    B(Vec<u8>),
    N,
}

async fn seed(pool: &sqlx::AnyPool, versions: u64, datasets: u64) {
    use Value::{B, I, N, S};
    let models = 1000.min(versions);
    sqlx::query("INSERT INTO namespaces (id, name, created_at) VALUES (1, 'bench', 0)")
        .execute(pool)
        .await
        .unwrap();
    insert(
        pool,
        "models",
        "id, namespace_id, name, full_name, next_number, created_at, created_by",
        (0..models)
            .map(|m| {
                let n = i64::try_from(versions / models).unwrap();
                vec![
                    I(m as i64 + 1),
                    I(1),
                    S(format!("m{m}")),
                    S(format!("bench/m{m}")),
                    I(n),
                    I(0),
                    S("bench".into()),
                ]
            })
            .collect(),
    )
    .await;
    insert(
        pool,
        "versions",
        "id, model_id, number, digest, manifest, config, config_digest, metadata, metadata_digest, size, file_count, created_at, created_by",
        (0..versions)
            .map(|i| {
                vec![
                    I(i as i64 + 1),
                    I((i % models) as i64 + 1),
                    I((i / models) as i64 + 1),
                    S(format!("sha256:{:064x}", i + 1)),
                    B(b"{}".to_vec()),
                    B(b"{}".to_vec()),
                    S("sha256:0".into()),
                    S("{}".into()),
                    S("sha256:0".into()),
                    I(1),
                    I(1),
                    I(0),
                    S("bench".into()),
                ]
            })
            .collect(),
    )
    .await;
    let mut rng = Rng(7);
    let mut edges = Vec::new();
    for i in 0..versions {
        let id = i as i64 + 1;
        let d1 = rng.next() % datasets;
        let d2 = (d1 + 1 + rng.next() % (datasets - 1)) % datasets;
        for d in [d1, d2] {
            edges.push(vec![
                I(id),
                S("dataset".into()),
                S(dataset(d)),
                S(format!("s3://bench/{d}")),
                N,
                I(0),
            ]);
        }
        edges.push(vec![
            I(id),
            S("commit".into()),
            S(commit(rng.next() % (versions / 5).max(1))),
            S("https://git.example/bench".into()),
            N,
            I(0),
        ]);
        edges.push(vec![
            I(id),
            S("image".into()),
            S(format!("sha256:{:064x}", rng.next() % 200)),
            S(String::new()),
            N,
            I(0),
        ]);
        // Fine-tune of the previous version of the same model: chains of up to 4.
        if i >= models && i % 5 == 0 && (i / models) % 4 != 0 {
            let parent = id - models as i64;
            edges.push(vec![
                I(id),
                S("parent".into()),
                S(format!("parent-{parent}")),
                S(String::new()),
                I(parent),
                I(0),
            ]);
        }
    }
    insert(
        pool,
        "lineage_edges",
        "version_id, kind, input, uri, parent_id, created_at",
        edges,
    )
    .await;
    insert(
        pool,
        "aliases",
        "model_id, name, version_id, updated_at, updated_by",
        (0..models)
            .map(|m| {
                vec![
                    I(m as i64 + 1),
                    S("production".into()),
                    I((versions - models + m) as i64 + 1),
                    I(0),
                    S("bench".into()),
                ]
            })
            .collect(),
    )
    .await;
}

async fn run(name: &str, store: Store, pool: sqlx::AnyPool) {
    let versions = env("VERSIONS", 100_000);
    let datasets = env("DATASETS", 10_000);
    let queries = env("QUERIES", 1_000);
    let t = Instant::now();
    seed(&pool, versions, datasets).await;
    // Fresh statistics, as a long-running database has them.
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    let seeded = t.elapsed().as_secs_f64();
    let mut rng = Rng(42);
    for _ in 0..50 {
        store
            .lineage_impact("dataset", &dataset(rng.next() % datasets))
            .await
            .unwrap();
    }
    let mut by_dataset = Vec::new();
    let mut rows = 0usize;
    for _ in 0..queries {
        let d = dataset(rng.next() % datasets);
        let t = Instant::now();
        let r = store.lineage_impact("dataset", &d).await.unwrap();
        by_dataset.push(t.elapsed().as_secs_f64() * 1000.0);
        rows += r.len();
    }
    let mut by_commit = Vec::new();
    for _ in 0..queries {
        let c = commit(rng.next() % (versions / 5).max(1));
        let t = Instant::now();
        store.lineage_impact("commit", &c).await.unwrap();
        by_commit.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "{}",
        serde_json::json!({
            "backend": name,
            "versions": versions,
            "datasets": datasets,
            "queries": queries,
            "seed_s": (seeded * 10.0).round() / 10.0,
            "avg_versions_per_dataset_query": rows as f64 / queries as f64,
            "dataset_ms": {"p50": pct(&mut by_dataset, 50.0), "p95": pct(&mut by_dataset, 95.0), "p99": pct(&mut by_dataset, 99.0)},
            "commit_ms": {"p50": pct(&mut by_commit, 50.0), "p95": pct(&mut by_commit, 95.0), "p99": pct(&mut by_commit, 99.0)},
        })
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    sqlx::any::install_default_drivers();
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
            .unwrap();
    let path = dir.path().join("meta.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    run("sqlite", store.clone(), pool.clone()).await;
    pool.close().await;
    store.close().await;
    if let Some(db) = PgTestDb::create().await {
        let store = Store::connect(&db.url).await.unwrap();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        run("postgres", store.clone(), pool.clone()).await;
        pool.close().await;
        store.close().await;
    }
}
