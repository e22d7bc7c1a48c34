//! The sequencer over real stores: replicas over one database serialise,
//! leftovers of a crashed batch are harmless, and stored tiles that no
//! longer reproduce the stored root stop the log from signing.

use std::time::Duration;

use provenant_registry::{LogConfig, LogError, TransparencyLog};
use provenant_store::{BlobStore, Store};
use provenant_testkit::PgTestDb;
use provenant_tlog::{
    Checkpoint, Ed25519Signer, MemoryLog, TILE_WIDTH, TileId, Verifiers, parse_entry_bundle,
    tile_width,
};

const ORIGIN: &str = "replicas.test/log";

fn entry(i: u64) -> String {
    format!("{{\"i\":{i},\"type\":\"test\"}}")
}

/// Rebuilds the tree from the entry bundles and checks it against the signed
/// checkpoint and the database's index.
async fn check_log(store: &Store, blobs: &BlobStore, signer: &Ed25519Signer) -> u64 {
    let state = store.log_state().await.unwrap().unwrap();
    let mut v = Verifiers::new();
    v.push(signer.verifier());
    let (cp, _) = Checkpoint::open(state.checkpoint.as_bytes(), Some(ORIGIN), &v).unwrap();
    assert_eq!(cp.size, state.size);
    let mut log = MemoryLog::new();
    for b in 0..cp.size.div_ceil(TILE_WIDTH) {
        let id = TileId::entries(b, tile_width(0, b, cp.size).unwrap());
        let bytes = blobs.log_get(&id.path()).await.unwrap().unwrap();
        let entries = parse_entry_bundle(&id, &bytes).unwrap();
        for (k, e) in entries.iter().enumerate() {
            let index = b * TILE_WIDTH + k as u64;
            let row = store.log_event_by_index(index).await.unwrap().unwrap();
            assert_eq!(row.entry.as_bytes(), *e, "entry {index}");
        }
        log.append(&entries).unwrap();
    }
    assert_eq!(log.root().unwrap(), cp.root);
    cp.size
}

async fn replicas(url: &str, blob_dir: &std::path::Path, signer: &Ed25519Signer) {
    // Two replicas: separate connection pools and object-store handles over
    // the same database and directory, each with its own sequencer.
    let mut logs = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(url).await.unwrap();
        let blobs = BlobStore::local(blob_dir).unwrap();
        let mut cfg = LogConfig::new(ORIGIN);
        cfg.batch_max = 300;
        let log = TransparencyLog::open(
            store.clone(),
            blobs,
            Ed25519Signer::from_skey(&signer.skey()).unwrap(),
            cfg,
        )
        .await
        .unwrap();
        tokio::spawn(log.clone().run());
        logs.push(log);
        stores.push(store);
    }
    let total = 3000u64;
    let mut tasks = Vec::new();
    for w in 0..6u64 {
        let store = stores[(w % 2) as usize].clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..(total / 6 / 50) {
                let first = w * (total / 6) + k * 50;
                let entries: Vec<String> = (first..first + 50).map(entry).collect();
                store.log_append_raw("test", &entries).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let head = logs[0]
        .wait_for_size(total, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(head.size, total);
    let blobs = BlobStore::local(blob_dir).unwrap();
    assert_eq!(check_log(&stores[0], &blobs, signer).await, total);
    // Every entry once.
    let mut seen = std::collections::HashSet::new();
    for i in 0..total {
        let row = stores[1].log_event_by_index(i).await.unwrap().unwrap();
        assert!(seen.insert(row.entry), "entry logged twice at {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_serialise_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    Store::connect(&url).await.unwrap(); // create and migrate once
    replicas(&url, &dir.path().join("blobs"), &signer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_serialise_postgres() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    Store::connect(&db.url).await.unwrap();
    replicas(&db.url, &dir.path().join("blobs"), &signer).await;
}

async fn crash_and_tamper(store: Store, blob_dir: &std::path::Path) {
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    let blobs = BlobStore::local(blob_dir).unwrap();
    let log = TransparencyLog::open(
        store.clone(),
        blobs.clone(),
        Ed25519Signer::from_skey(&signer.skey()).unwrap(),
        LogConfig::new(ORIGIN),
    )
    .await
    .unwrap();
    let first: Vec<String> = (0..300).map(entry).collect();
    store.log_append_raw("test", &first).await.unwrap();
    assert_eq!(log.sequence_once().await.unwrap(), 300);

    // A batch that crashed after writing its objects, before its commit:
    // objects beyond the committed size, with garbage.
    for path in [
        "tile/0/001.p/200",
        "tile/entries/001.p/200",
        "tile/0/001",
        "tile/entries/001",
    ] {
        blobs
            .log_put(
                path,
                bytes::Bytes::from_static(b"left over by a crashed batch"),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.log_state().await.unwrap().unwrap().size, 300);
    let more: Vec<String> = (300..700).map(entry).collect();
    store.log_append_raw("test", &more).await.unwrap();
    assert_eq!(log.sequence_once().await.unwrap(), 400);
    assert_eq!(check_log(&store, &blobs, &signer).await, 700);

    // A stored tile of the committed tree altered: the next batch refuses
    // to sign, and the state stays where it was.
    let current = TileId::hashes(0, 2, (700 % 256) as u16);
    let mut bytes = blobs
        .log_get(&current.path())
        .await
        .unwrap()
        .unwrap()
        .to_vec();
    bytes[0] ^= 1;
    blobs
        .log_put(&current.path(), bytes::Bytes::from(bytes))
        .await
        .unwrap();
    log.forget_tile(&current);
    let before = store.log_state().await.unwrap().unwrap();
    store.log_append_raw("test", &[entry(700)]).await.unwrap();
    match log.sequence_once().await {
        Err(e @ LogError::Inconsistent { size: 700, .. }) => {
            assert!(e.to_string().contains("stored tiles give root"), "{e}");
        }
        other => panic!("expected a refusal to sign, got {other:?}"),
    }
    assert_eq!(store.log_state().await.unwrap().unwrap(), before);
    assert_eq!(store.log_pending_count().await.unwrap(), 1);
}

#[tokio::test]
async fn crash_leftovers_and_tampered_tiles_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    crash_and_tamper(store, &dir.path().join("blobs")).await;
}

#[tokio::test]
async fn crash_leftovers_and_tampered_tiles_postgres() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    crash_and_tamper(store.clone(), &dir.path().join("blobs")).await;
    store.close().await;
}

#[tokio::test]
async fn superseded_tiles_go_but_the_ones_still_in_use_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    let open = || async {
        TransparencyLog::open(
            store.clone(),
            blobs.clone(),
            Ed25519Signer::from_skey(&signer.skey()).unwrap(),
            LogConfig::new(ORIGIN),
        )
        .await
    };
    let log = open().await.unwrap();
    // 300 entries: level 1 gets its first (partial) tile; 10 more leave that
    // tile as it was while level 0's partial tile and bundle grow.
    for (from, to) in [(0, 300), (300, 310)] {
        let batch: Vec<String> = (from..to).map(entry).collect();
        store.log_append_raw("test", &batch).await.unwrap();
        log.sequence_once().await.unwrap();
    }
    for id in provenant_tlog::tiles_for_size(310)
        .into_iter()
        .chain([TileId::entries(1, 54)])
    {
        assert!(
            blobs.log_get(&id.path()).await.unwrap().is_some(),
            "{} is needed at size 310",
            id.path()
        );
    }
    for gone in ["tile/0/001.p/44", "tile/entries/001.p/44"] {
        assert!(
            blobs.log_get(gone).await.unwrap().is_none(),
            "{gone} was superseded"
        );
    }
    // A restart checks the stored tree against the tiles.
    drop(log);
    open().await.unwrap();
    assert_eq!(check_log(&store, &blobs, &signer).await, 310);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_paced_while_entries_keep_coming() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    let mut cfg = LogConfig::new(ORIGIN);
    cfg.batch_interval = Duration::from_secs(2);
    cfg.batch_max = 100;
    let log = TransparencyLog::open(store.clone(), blobs, signer, cfg)
        .await
        .unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let sequencer = tokio::spawn(log.clone().run_until(stop));

    // An idle sequencer picks up the first entry at its next poll.
    store.log_append_raw("test", &[entry(0)]).await.unwrap();
    let head = log.wait_for_size(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(head.size, 1);
    // The next entry waits for the batch interval to pass...
    store.log_append_raw("test", &[entry(1)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        log.head(true).await.unwrap().size,
        1,
        "sequenced before the interval"
    );
    let head = log.wait_for_size(2, Duration::from_secs(10)).await.unwrap();
    assert_eq!(head.size, 2);
    // ...but a full batch means a backlog: the next one starts at once.
    let backlog: Vec<String> = (2..252).map(entry).collect();
    store.log_append_raw("test", &backlog).await.unwrap();
    let started = std::time::Instant::now();
    let head = log
        .wait_for_size(252, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(head.size, 252);
    // Paced, the three batches (100, 100, 50) would take three intervals.
    assert!(
        started.elapsed() < Duration::from_millis(4500),
        "full batches were paced: {:?}",
        started.elapsed()
    );
    stop_tx.send(true).unwrap();
    sequencer.await.unwrap();
}
