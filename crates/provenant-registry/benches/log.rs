//! Transparency log over the real stores (SQLite + local files, and
//! PostgreSQL + local files when `PROVENANT_TEST_POSTGRES_URL` is set):
//! - sustained append rate: 4 writers append entries to the outbox (64-row
//!   statements, 500 per transaction) as fast as they can while the
//!   sequencer batches them; append→checkpoint latency under that saturating
//!   load; storage bytes per entry under `log/`;
//! - append→checkpoint latency at a steady offered load (10,000/s on SQLite,
//!   5,000/s on PostgreSQL) and one entry at a time;
//! - inclusion and consistency proof latency from cached tiles on a
//!   10,000,000-entry log.
//!
//! `cargo bench -p provenant-registry --bench log` (env: `LOG_BENCH_ENTRIES`,
//! default 200,000; `LOG_BENCH_PROOF_SIZE`, default 10,000,000;
//! `LOG_BENCH_PROOFS`, default 20,000).

#![allow(clippy::unwrap_used)] // bench harness: a panic is the failure report

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use provenant_registry::{LogConfig, TransparencyLog};
use provenant_store::{BlobStore, Store};
use provenant_tlog::{
    Checkpoint, Ed25519Signer, Hash, TILE_WIDTH, TileHashReader, TileId, TileKind, TileReader,
    integrate,
};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic entry: ~250 bytes of canonical JSON.
fn entry(i: u64) -> String {
    format!(
        "{{\"details\":{{\"digest\":\"sha256:{i:064x}\",\"metadata_digest\":\"sha256:{:064x}\"}},\"schema_version\":1,\
         \"target\":\"aiops/anomaly-detector:{i}\",\"type\":\"version.published\",\"when\":1764000000000,\"who\":\"ci-bot\"}}",
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn append_run(name: &str, store: Store, blobs: BlobStore, total: u64) {
    let signer = Ed25519Signer::generate("bench.test/log").unwrap();
    let log = TransparencyLog::open(
        store.clone(),
        blobs.clone(),
        signer,
        LogConfig::new("bench.test/log"),
    )
    .await
    .unwrap();
    // Record when each checkpoint lands.
    let heads: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let mut rx = log.subscribe();
    let h2 = heads.clone();
    let watcher = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let size = rx.borrow_and_update().as_ref().map_or(0, |h| h.size);
            h2.lock().unwrap().push((Instant::now(), size));
        }
    });
    let seq = tokio::spawn(log.clone().run());

    // Appenders: 4 writers, 500 entries per transaction (registry changes
    // arrive from many requests; each request's change is one row).
    let chunk = 500u64;
    let start = Instant::now();
    let inserted: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let mut writers = Vec::new();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..4 {
        let store = store.clone();
        let next = next.clone();
        let inserted = inserted.clone();
        writers.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(chunk, std::sync::atomic::Ordering::SeqCst);
                if first >= total {
                    break;
                }
                let n = chunk.min(total - first);
                let entries: Vec<String> = (first..first + n).map(entry).collect();
                store.log_append_raw("bench", &entries).await.unwrap();
                inserted.lock().unwrap().push((Instant::now(), n));
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let head = log
        .wait_for_size(total, Duration::from_secs(600))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(head.size, total);
    seq.abort();
    watcher.abort();

    // Latency: a transaction committed at t is covered by the first
    // checkpoint whose size reaches the number of entries committed by t
    // (exact on SQLite, where ids follow commit order; approximate on
    // PostgreSQL).
    let heads = heads.lock().unwrap().clone();
    let mut inserted = inserted.lock().unwrap().clone();
    inserted.sort_by_key(|(t, _)| *t);
    let mut committed = 0u64;
    let mut lat = Vec::new();
    for (t, n) in &inserted {
        committed += n;
        if let Some((ht, _)) = heads.iter().find(|(ht, s)| ht >= t && *s >= committed) {
            lat.push(*ht - *t);
        }
    }
    lat.sort();
    let (objects, bytes) = blobs.log_usage().await.unwrap();
    let entry_bytes: u64 = (0..total).map(|i| entry(i).len() as u64 + 2).sum();
    println!(
        "{name:<28} {total} entries in {:.2} s = {:>8.0} entries/s; append->checkpoint p50 {:.0} ms p99 {:.0} ms; \
         {} batches; storage {:.1} B/entry ({:.1} B/entry beyond the entry + 2-byte length), {objects} objects",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        heads.len(),
        bytes as f64 / total as f64,
        (bytes as f64 - entry_bytes as f64) / total as f64,
    );
}

/// Append→checkpoint latency at a steady offered load (`rate` entries/s in
/// one transaction every 10 ms, for 3 s), and one entry at a time.
async fn paced_latency(name: &str, store: Store, blobs: BlobStore, rate: u64) {
    let signer = Ed25519Signer::generate("lat.test/log").unwrap();
    let log = TransparencyLog::open(store.clone(), blobs, signer, LogConfig::new("lat.test/log"))
        .await
        .unwrap();
    let seq = tokio::spawn(log.clone().run());
    let per_tick = (rate / 100).max(1);
    let mut lat = Vec::new();
    let mut next = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let start = Instant::now();
    let mut pending: Vec<(Instant, u64)> = Vec::new();
    while start.elapsed() < Duration::from_secs(3) {
        tick.tick().await;
        let entries: Vec<String> = (next..next + per_tick).map(entry).collect();
        store.log_append_raw("bench", &entries).await.unwrap();
        next += per_tick;
        pending.push((Instant::now(), next));
        let size = log.head(true).await.unwrap().size;
        let now = Instant::now();
        pending.retain(|(t, upto)| {
            if *upto <= size {
                lat.push(now - *t);
                false
            } else {
                true
            }
        });
    }
    for (t, upto) in pending {
        log.wait_for_size(upto, Duration::from_secs(30))
            .await
            .unwrap();
        lat.push(t.elapsed());
    }
    let offered = next as f64 / start.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "{name:<28} steady {offered:.0} entries/s offered: append->checkpoint p50 {:.1} ms p99 {:.1} ms (measured when polled, +<=10 ms)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
    let mut lat = Vec::new();
    let base = log.head(true).await.unwrap().size;
    for i in 0..200u64 {
        let t = Instant::now();
        store.log_append_raw("bench", &[entry(i)]).await.unwrap();
        let h = log
            .wait_for_size(base + i + 1, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(h.size > base + i, "entry {i} not sequenced within 10 s");
        lat.push(t.elapsed());
    }
    seq.abort();
    lat.sort();
    println!(
        "{name:<28} one entry at a time: append->checkpoint p50 {:.1} ms p99 {:.1} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
}

/// Hash tiles only (the proof bench needs no entry bundles).
#[derive(Default)]
struct Tiles {
    map: std::collections::HashMap<(u8, u64), Vec<u8>>,
}

impl TileReader for Tiles {
    type Tile<'a> = &'a [u8];
    fn read_tiles<'a>(&'a self, ids: &[TileId]) -> Result<Vec<&'a [u8]>, provenant_tlog::Error> {
        Ok(ids
            .iter()
            .map(|id| {
                let TileKind::Hashes(l) = id.kind else {
                    return &[][..];
                };
                let t = &self.map[&(l, id.index)];
                &t[..id.hash_tile_len().min(t.len())]
            })
            .collect())
    }
}

async fn proofs(size: u64, n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
    store
        .log_state_init(&provenant_tlog::empty_root().to_hex())
        .await
        .unwrap();
    // Build the tree's hash tiles in memory, batch by batch.
    let t0 = Instant::now();
    let mut tiles = Tiles::default();
    let mut cur = 0u64;
    let mut root = Hash::default();
    let batch = 1u64 << 16;
    while cur < size {
        let n = batch.min(size - cur);
        let entries: Vec<[u8; 8]> = (cur..cur + n).map(u64::to_be_bytes).collect();
        let integ = integrate(cur, &TileHashReader::new(cur, &tiles), &[], &entries)
            .or_else(|_| {
                // integrate checks the partial bundle; give it one of the right width.
                let w = (cur % TILE_WIDTH) as usize;
                let first = cur - w as u64;
                let prev: Vec<[u8; 8]> = (first..cur).map(u64::to_be_bytes).collect();
                let bundle = provenant_tlog::encode_entry_bundle(&prev).unwrap();
                integrate(cur, &TileHashReader::new(cur, &tiles), &bundle, &entries)
            })
            .unwrap();
        for (id, data) in integ.tiles {
            if let TileKind::Hashes(l) = id.kind {
                tiles.map.insert((l, id.index), data);
            }
        }
        root = integ.root;
        cur = integ.new_size;
    }
    let built = t0.elapsed();
    let t1 = Instant::now();
    for id in provenant_tlog::tiles_for_size(size) {
        let TileKind::Hashes(l) = id.kind else {
            continue;
        };
        let data = &tiles.map[&(l, id.index)][..id.hash_tile_len()];
        blobs
            .log_put(&id.path(), Bytes::copy_from_slice(data))
            .await
            .unwrap();
    }
    let written = t1.elapsed();
    drop(tiles);
    let signer = Ed25519Signer::generate("proofs.test/log").unwrap();
    let note = Checkpoint::new("proofs.test/log", size, root)
        .sign(&[&signer])
        .unwrap();
    let batch = store.log_batch_begin(1).await.unwrap();
    batch
        .commit(&[], size, &root.to_hex(), &note)
        .await
        .unwrap();
    let mut cfg = LogConfig::new("proofs.test/log");
    cfg.cache_bytes = 2 << 30;
    let log = TransparencyLog::open(store, blobs, signer, cfg)
        .await
        .unwrap();
    let t2 = Instant::now();
    log.warm(size).await.unwrap();
    let warmed = t2.elapsed();
    println!(
        "proof log of {size} entries: tiles built in {:.1} s, written in {:.1} s, cache warmed in {:.1} s",
        built.as_secs_f64(),
        written.as_secs_f64(),
        warmed.as_secs_f64()
    );
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    let mut incl = Vec::new();
    for _ in 0..n {
        let i = next(size);
        let t = Instant::now();
        let (_, p) = log.inclusion(i, Some(size)).await.unwrap();
        incl.push(t.elapsed());
        std::hint::black_box(p);
    }
    let mut cons = Vec::new();
    for _ in 0..n {
        let old = 1 + next(size - 1);
        let t = Instant::now();
        let p = log.consistency(old, size).await.unwrap();
        cons.push(t.elapsed());
        std::hint::black_box(p);
    }
    incl.sort();
    cons.sort();
    for (what, v) in [("inclusion", &incl), ("consistency", &cons)] {
        println!(
            "{what:<12} proof, {size} entries, cached tiles: n={} p50 {:.1} µs p99 {:.1} µs max {:.1} µs",
            v.len(),
            percentile(v, 0.5).as_secs_f64() * 1e6,
            percentile(v, 0.99).as_secs_f64() * 1e6,
            v.last().unwrap().as_secs_f64() * 1e6
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let total = env("LOG_BENCH_ENTRIES", 200_000);
    rt.block_on(async {
        // Each run on a fresh database and directory.
        for single in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_sqlite(&dir.path().join("meta.db"))
                .await
                .unwrap();
            let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
            if single {
                paced_latency("sqlite + local files", store, blobs, 10_000).await;
            } else {
                append_run("sqlite + local files", store, blobs, total).await;
            }
        }
        for single in [false, true] {
            let Some(db) = provenant_testkit::PgTestDb::create().await else {
                break;
            };
            let dir = tempfile::tempdir().unwrap();
            let store = Store::connect(&db.url).await.unwrap();
            let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
            if single {
                paced_latency("postgresql + local files", store.clone(), blobs, 5_000).await;
            } else {
                append_run("postgresql + local files", store.clone(), blobs, total).await;
            }
            store.close().await;
            drop(db);
        }
        proofs(
            env("LOG_BENCH_PROOF_SIZE", 10_000_000),
            env("LOG_BENCH_PROOFS", 20_000),
        )
        .await;
    });
}
