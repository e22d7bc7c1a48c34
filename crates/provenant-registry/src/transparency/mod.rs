//! The registry's transparency log: the sequencer over the stores and the
//! read side (tiles, proofs) behind `/log/...`.
//!
//! Storage rules:
//! - Entries enter the outbox (`log_events`) in the transaction of the change
//!   they record (see `provenant_store::LogRecord`).
//! - A batch ([`TransparencyLog::sequence_once`]) locks the log state, takes
//!   up to `batch_max` pending entries, integrates them, writes every changed
//!   tile and entry bundle to the object store under `log/` (C2SP tlog-tiles
//!   paths), signs a checkpoint for the new size, and then, in the same
//!   transaction, assigns indexes and advances the state. Killing the process
//!   before the commit leaves the published state untouched; objects written
//!   beyond the committed size are rewritten by the next batch and never
//!   served (reads are bounded by the committed size).
//! - The checkpoint is only ever signed for a tree that extends the stored
//!   one: the old root is recomputed from the stored tiles and must equal the
//!   stored root before anything is signed.
//! - After the commit the superseded partial tiles and bundles are deleted;
//!   readers that still ask for them are served a prefix of the current one.

mod cache;
mod proofs;
mod readers;
mod sequencer;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provenant_store::{BlobStore, LogStateRow, Store, StoreError};
use provenant_tlog::{Ed25519Signer, Hash, empty_root, leaf_hash};

use cache::TileCache;
use readers::NodeTable;

/// Errors of the transparency log service. Not `#[non_exhaustive]`: the
/// server maps every variant to an HTTP status and error code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tlog(#[from] provenant_tlog::Error),
    /// Stored tiles do not reproduce the stored root: refuse to sign.
    #[error("log storage is inconsistent at tree size {size}: {reason}")]
    Inconsistent { size: u64, reason: String },
    /// A tile or bundle that must exist is missing from the object store.
    #[error("log object {path} is missing from the object store")]
    Missing { path: String },
    /// A tile outside the published tree, or a size beyond it.
    #[error("{what} {value} is beyond the published tree of size {size}")]
    Beyond {
        what: &'static str,
        value: u64,
        size: u64,
    },
    #[error("no log entry {0}")]
    NoEntry(String),
}

/// How the log runs.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Checkpoint origin, e.g. `registry.example.com/log`.
    pub origin: String,
    /// Largest batch integrated at once.
    pub batch_max: usize,
    /// How often an idle sequencer looks for pending entries.
    pub poll: Duration,
    /// Least time from one batch to the next while entries keep arriving
    /// (unless a batch was full): entries arriving together are integrated
    /// together, and a batch's fixed cost (partial tiles rewritten, a
    /// checkpoint signed, the write lock held meanwhile on SQLite) is paid
    /// at most this often.
    pub batch_interval: Duration,
    /// Tile cache size in bytes.
    pub cache_bytes: usize,
}

impl LogConfig {
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            batch_max: 4096,
            poll: Duration::from_millis(20),
            batch_interval: Duration::from_millis(100),
            cache_bytes: 256 << 20,
        }
    }
}

/// The latest committed state as this process knows it.
#[derive(Clone, Debug)]
pub struct LogHead {
    pub size: u64,
    pub root: Hash,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The latest cosigned checkpoint note, if witnesses cosigned one.
    pub cosigned: Option<String>,
}

struct Inner {
    store: Store,
    blobs: BlobStore,
    config: LogConfig,
    signer: Ed25519Signer,
    cache: TileCache,
    nodes: TileCache<Arc<NodeTable>>,
    head: Mutex<(Option<LogHead>, Instant)>,
    heads: tokio::sync::watch::Sender<Option<LogHead>>,
}

/// The transparency log service (cheap to clone).
#[derive(Clone)]
pub struct TransparencyLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TransparencyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransparencyLog")
            .field("origin", &self.inner.config.origin)
            .finish()
    }
}

fn hex_hash(s: &str, what: &str) -> Result<Hash, LogError> {
    Hash::from_hex(s).ok_or_else(|| {
        LogError::Store(StoreError::Corrupt(format!(
            "{what} is not a hex SHA-256 hash: {s:?}"
        )))
    })
}

impl TransparencyLog {
    /// Opens the log over the stores and signs the empty tree's checkpoint on
    /// first use.
    pub async fn open(
        store: Store,
        blobs: BlobStore,
        signer: Ed25519Signer,
        config: LogConfig,
    ) -> Result<Self, LogError> {
        store.log_state_init(&empty_root().to_hex()).await?;
        let (heads, _) = tokio::sync::watch::channel(None);
        let cap = config.cache_bytes;
        let log = Self {
            inner: Arc::new(Inner {
                store,
                blobs,
                config,
                signer,
                cache: TileCache::new(cap / 3),
                nodes: TileCache::new(cap - cap / 3),
                head: Mutex::new((None, Instant::now())),
                heads,
            }),
        };
        // Sign the current tree if nothing is signed yet.
        log.sequence_once().await?;
        Ok(log)
    }

    pub fn origin(&self) -> &str {
        &self.inner.config.origin
    }

    /// The signed-note verifier key string of the log.
    pub fn vkey(&self) -> String {
        self.inner.signer.vkey()
    }

    /// New heads as this process commits them.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<LogHead>> {
        self.inner.heads.subscribe()
    }

    /// Runs the sequencer until the process ends: batches whatever is
    /// pending, and polls when idle (other replicas append too).
    pub async fn run(self) {
        let (_keep, stop) = tokio::sync::watch::channel(false);
        self.run_until(stop).await;
    }

    /// [`TransparencyLog::run`] until `stop` turns true: a batch in progress
    /// is finished (committed or rolled back as a whole), never cut.
    pub async fn run_until(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            let started = Instant::now();
            let pause = match self.sequence_once().await {
                Ok(n) if n >= self.inner.config.batch_max => continue,
                Ok(n) if n > 0 => self
                    .inner
                    .config
                    .batch_interval
                    .saturating_sub(started.elapsed()),
                Ok(_) => self.inner.config.poll,
                Err(e) => {
                    tracing::error!(error = %e, "log sequencer batch failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    fn state_head(state: &LogStateRow) -> Result<LogHead, LogError> {
        Ok(LogHead {
            size: state.size,
            root: hex_hash(&state.root, "log_state.root")?,
            checkpoint: state.checkpoint.clone(),
            cosigned: state.cosigned.clone(),
        })
    }

    /// The latest committed head (re-read from the database when older than
    /// 200 ms, or with `fresh`).
    pub async fn head(&self, fresh: bool) -> Result<LogHead, LogError> {
        if !fresh
            && let Ok(g) = self.inner.head.lock()
            && let (Some(h), at) = &*g
            && at.elapsed() < Duration::from_millis(200)
        {
            return Ok(h.clone());
        }
        let state = self
            .inner
            .store
            .log_state()
            .await?
            .ok_or_else(|| StoreError::Corrupt("log_state row is missing".into()))?;
        let head = Self::state_head(&state)?;
        self.set_head(head.clone());
        Ok(head)
    }

    fn set_head(&self, head: LogHead) {
        if let Ok(mut g) = self.inner.head.lock()
            && g.0.as_ref().is_none_or(|h| head.size >= h.size)
        {
            *g = (Some(head), Instant::now());
        }
    }

    /// Waits until a checkpoint covers `size` entries (or `timeout` passes).
    pub async fn wait_for_size(&self, size: u64, timeout: Duration) -> Result<LogHead, LogError> {
        let deadline = Instant::now() + timeout;
        loop {
            let head = self.head(true).await?;
            if head.size >= size || Instant::now() >= deadline {
                return Ok(head);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stores a cosigned checkpoint.
    pub async fn set_cosigned(&self, note: &str) -> Result<(), LogError> {
        self.inner.store.log_cosigned_set(note).await?;
        if let Ok(mut g) = self.inner.head.lock()
            && let Some(h) = g.0.as_mut()
        {
            h.cosigned = Some(note.to_owned());
        }
        Ok(())
    }

    /// RFC 6962 leaf hash of an entry.
    pub fn leaf_hash(entry: &[u8]) -> Hash {
        leaf_hash(entry)
    }
}
