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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use provenant_store::{Assigned, BlobStore, LogStateRow, Store, StoreError};
use provenant_tlog::{
    Checkpoint, Ed25519Signer, Hash, NoteSigner, TILE_WIDTH, TileHashReader, TileId, TileKind,
    TileReader, consistency_proof, empty_root, inclusion_proof, integrate, leaf_hash, tile_width,
    tree_hash,
};

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

/// A tile cache keyed by exact tile id (a `.p/W` tile of a consistent log
/// never changes, so every entry is immutable). Two generations approximate
/// LRU: hits in the old generation move to the new one; when the new one is
/// full the old one is dropped.
struct TileCache<V = Arc<[u8]>> {
    inner: Mutex<CacheGen<V>>,
    cap: usize,
}

struct CacheGen<V> {
    hot: HashMap<TileId, V>,
    cold: HashMap<TileId, V>,
    hot_bytes: usize,
}

impl<V> Default for CacheGen<V> {
    fn default() -> Self {
        Self {
            hot: HashMap::new(),
            cold: HashMap::new(),
            hot_bytes: 0,
        }
    }
}

/// Bytes a cached value holds.
trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for Arc<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weight for Arc<NodeTable> {
    fn weight(&self) -> usize {
        self.nodes.len() * 32
    }
}

impl<V: Clone + Weight> TileCache<V> {
    fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::default(),
            cap,
        }
    }

    fn get(&self, id: &TileId) -> Option<V> {
        let mut g = self.inner.lock().ok()?;
        if let Some(t) = g.hot.get(id) {
            return Some(t.clone());
        }
        let t = g.cold.remove(id)?;
        Self::insert_locked(&mut g, self.cap, *id, t.clone());
        Some(t)
    }

    fn insert(&self, id: TileId, data: V) {
        if let Ok(mut g) = self.inner.lock() {
            Self::insert_locked(&mut g, self.cap, id, data);
        }
    }

    fn insert_locked(g: &mut CacheGen<V>, cap: usize, id: TileId, data: V) {
        g.hot_bytes += data.weight();
        if let Some(old) = g.hot.insert(id, data) {
            g.hot_bytes -= old.weight();
        }
        if g.hot_bytes > cap / 2 {
            g.cold = std::mem::take(&mut g.hot);
            g.hot_bytes = 0;
        }
    }

    fn remove(&self, id: &TileId) {
        if let Ok(mut g) = self.inner.lock() {
            if let Some(old) = g.hot.remove(id) {
                g.hot_bytes -= old.weight();
            }
            g.cold.remove(id);
        }
    }
}

/// Tiles fetched for one operation, plus the ids still missing.
struct Fetched<'a> {
    cache: &'a TileCache,
    extra: HashMap<TileId, Arc<[u8]>>,
    missing: Mutex<Vec<TileId>>,
}

impl TileReader for Fetched<'_> {
    type Tile<'a>
        = Arc<[u8]>
    where
        Self: 'a;

    fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Arc<[u8]>>, provenant_tlog::Error> {
        let mut out = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.extra.get(id).cloned().or_else(|| self.cache.get(id)) {
                Some(t) => out.push(t),
                None => missing.push(*id),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let n = missing.len();
        if let Ok(mut m) = self.missing.lock() {
            m.extend(missing);
        }
        Err(provenant_tlog::Error::ReaderCount {
            what: "cached tiles",
            expected: ids.len(),
            got: ids.len() - n,
        })
    }
}

/// Every complete subtree hash inside one hash tile (heights 0..=7), so
/// that proofs read hashes instead of rehashing up to 128 leaves each.
struct NodeTable {
    nodes: Vec<Hash>,
    /// Start of each height in `nodes`.
    offsets: [usize; 9],
}

impl NodeTable {
    fn build(id: &TileId, raw: &[u8]) -> Result<Self, provenant_tlog::Error> {
        if raw.len() != id.hash_tile_len() {
            return Err(provenant_tlog::Error::TileLength {
                tile: id.path(),
                expected: id.hash_tile_len(),
                got: raw.len(),
            });
        }
        let mut nodes: Vec<Hash> = raw.chunks_exact(32).filter_map(Hash::from_slice).collect();
        let mut offsets = [0usize; 9];
        let mut start = 0usize;
        let mut count = nodes.len();
        offsets[1] = count;
        for h in 1..8 {
            for k in 0..count / 2 {
                let n = provenant_tlog::node_hash(&nodes[start + 2 * k], &nodes[start + 2 * k + 1]);
                nodes.push(n);
            }
            start += count;
            count /= 2;
            offsets[h + 1] = start + count;
        }
        Ok(Self { nodes, offsets })
    }

    fn get(&self, height: u8, k: u64) -> Option<Hash> {
        let h = usize::from(height);
        let i = self.offsets[h].checked_add(usize::try_from(k).ok()?)?;
        (i < self.offsets[h + 1]).then(|| self.nodes[i])
    }
}

/// A [`provenant_tlog::HashReader`] over cached node tables of the tree of
/// `size`; records the tiles it lacks.
struct NodeReader<'a> {
    size: u64,
    cache: &'a TileCache<Arc<NodeTable>>,
    extra: HashMap<TileId, Arc<NodeTable>>,
    missing: Mutex<Vec<TileId>>,
}

impl provenant_tlog::HashReader for NodeReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, provenant_tlog::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        let mut missing = Vec::new();
        for &index in indexes {
            let (level, n) = provenant_tlog::split_stored_hash_index(index);
            let out_of_range = provenant_tlog::Error::IndexOutOfRange {
                what: "stored hash index",
                index,
                size: self.size,
            };
            let exists = n
                .checked_add(1)
                .and_then(|x| x.checked_shl(u32::from(level)).filter(|y| y >> level == x))
                .is_some_and(|end| end <= self.size);
            if !exists {
                return Err(out_of_range);
            }
            let t = level / 8;
            let h = level % 8;
            let pos = n << h;
            let tile_index = pos / TILE_WIDTH;
            let Some(width) = tile_width(t, tile_index, self.size) else {
                return Err(out_of_range);
            };
            let id = TileId::hashes(t, tile_index, width);
            let table = self.extra.get(&id).cloned().or_else(|| self.cache.get(&id));
            match table {
                Some(table) => {
                    let k = n - tile_index * (TILE_WIDTH >> h);
                    out.push(table.get(h, k).ok_or(out_of_range)?);
                }
                None => missing.push(id),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let n = missing.len();
        if let Ok(mut m) = self.missing.lock() {
            m.extend(missing);
        }
        Err(provenant_tlog::Error::ReaderCount {
            what: "cached node tables",
            expected: indexes.len(),
            got: indexes.len() - n,
        })
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

/// A bundle prefix holding the first `width` entries.
fn bundle_prefix(data: &[u8], width: u16) -> Option<&[u8]> {
    let mut offset = 0usize;
    for _ in 0..width {
        let len = data.get(offset..offset + 2)?;
        offset += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    data.get(..offset)
}

/// The first `width` hashes or entries of a wider tile of the same kind and index.
fn tile_prefix(id: &TileId, data: &[u8]) -> Option<Vec<u8>> {
    match id.kind {
        TileKind::Hashes(_) => data.get(..id.hash_tile_len()).map(<[u8]>::to_vec),
        TileKind::Entries => bundle_prefix(data, id.width).map(<[u8]>::to_vec),
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

    pub fn store(&self) -> &Store {
        &self.inner.store
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

    /// Reads a tile of the tree of `size` leaves from the object store: the
    /// exact path, else a prefix of the current (wider) one.
    async fn fetch_tile(&self, id: TileId, size: u64) -> Result<Arc<[u8]>, LogError> {
        if let Some(t) = self.inner.cache.get(&id) {
            return Ok(t);
        }
        let data = match self.inner.blobs.log_get(&id.path()).await? {
            Some(d) => d.to_vec(),
            None if !id.is_full() => {
                // Superseded partial: take the prefix of the current tile.
                let now = self.head(true).await?.size.max(size);
                let level = match id.kind {
                    TileKind::Hashes(l) => l,
                    TileKind::Entries => 0,
                };
                let width = tile_width(level, id.index, now).unwrap_or(id.width);
                let current = TileId { width, ..id };
                let data = self
                    .inner
                    .blobs
                    .log_get(&current.path())
                    .await?
                    .ok_or_else(|| LogError::Missing {
                        path: current.path(),
                    })?;
                tile_prefix(&id, &data).ok_or_else(|| LogError::Inconsistent {
                    size: now,
                    reason: format!(
                        "{} is shorter than its prefix {}",
                        current.path(),
                        id.path()
                    ),
                })?
            }
            None => return Err(LogError::Missing { path: id.path() }),
        };
        let data: Arc<[u8]> = data.into();
        // Only tiles of committed trees reach here; cache them.
        self.inner.cache.insert(id, data.clone());
        Ok(data)
    }

    /// Runs `f` over a hash reader for the tree of `size`, fetching the tiles
    /// it asks for until it has them all.
    async fn with_tiles<T>(
        &self,
        size: u64,
        f: impl Fn(&TileHashReader<'_, Fetched<'_>>) -> Result<T, provenant_tlog::Error>,
    ) -> Result<T, LogError> {
        let mut extra: HashMap<TileId, Arc<[u8]>> = HashMap::new();
        for _ in 0..8 {
            let src = Fetched {
                cache: &self.inner.cache,
                extra: std::mem::take(&mut extra),
                missing: Mutex::new(Vec::new()),
            };
            let result = f(&TileHashReader::new(size, &src));
            let missing = src.missing.into_inner().unwrap_or_default();
            extra = src.extra;
            match result {
                Ok(v) => return Ok(v),
                Err(e) if missing.is_empty() => return Err(e.into()),
                Err(_) => {
                    let fetched: Vec<(TileId, Arc<[u8]>)> = futures::stream::iter(missing)
                        .map(|id| async move {
                            Ok::<_, LogError>((id, self.fetch_tile(id, size).await?))
                        })
                        .buffer_unordered(8)
                        .try_collect()
                        .await?;
                    extra.extend(fetched);
                }
            }
        }
        Err(LogError::Inconsistent {
            size,
            reason: "tiles kept missing after 8 fetch rounds".into(),
        })
    }

    /// Runs `f` over the node tables of the tree of `size` (proofs),
    /// building the tables of tiles it asks for until it has them all.
    async fn with_nodes<T>(
        &self,
        size: u64,
        f: impl Fn(&NodeReader<'_>) -> Result<T, provenant_tlog::Error>,
    ) -> Result<T, LogError> {
        let mut extra: HashMap<TileId, Arc<NodeTable>> = HashMap::new();
        for _ in 0..8 {
            let reader = NodeReader {
                size,
                cache: &self.inner.nodes,
                extra: std::mem::take(&mut extra),
                missing: Mutex::new(Vec::new()),
            };
            let result = f(&reader);
            let missing = reader.missing.into_inner().unwrap_or_default();
            extra = reader.extra;
            match result {
                Ok(v) => return Ok(v),
                Err(e) if missing.is_empty() => return Err(e.into()),
                Err(_) => {
                    for id in missing {
                        let raw = self.fetch_tile(id, size).await?;
                        let table = Arc::new(NodeTable::build(&id, &raw)?);
                        self.inner.nodes.insert(id, table.clone());
                        extra.insert(id, table);
                    }
                }
            }
        }
        Err(LogError::Inconsistent {
            size,
            reason: "node tables kept missing after 8 rounds".into(),
        })
    }

    /// Integrates one batch of pending entries; returns how many. Signs the
    /// current tree when nothing has been signed yet.
    pub async fn sequence_once(&self) -> Result<usize, LogError> {
        let store = &self.inner.store;
        let head_known = self
            .inner
            .head
            .lock()
            .ok()
            .and_then(|g| g.0.as_ref().map(|h| !h.checkpoint.is_empty()))
            .unwrap_or(false);
        if head_known && store.log_pending_count_fast().await? == 0 {
            return Ok(0);
        }
        let batch = store
            .log_batch_begin(i64::try_from(self.inner.config.batch_max).unwrap_or(4096))
            .await?;
        let old_size = batch.state.size;
        let old_root = hex_hash(&batch.state.root, "log_state.root")?;
        if batch.pending.is_empty() && !batch.state.checkpoint.is_empty() {
            let head = Self::state_head(&batch.state)?;
            batch.rollback().await?;
            self.set_head(head);
            return Ok(0);
        }

        // The rightmost partial bundle, then integrate.
        let partial = match old_size % TILE_WIDTH {
            0 => Vec::new(),
            w => self
                .fetch_tile(TileId::entries(old_size / TILE_WIDTH, w as u16), old_size)
                .await?
                .to_vec(),
        };
        let entries: Vec<&[u8]> = batch.pending.iter().map(|p| p.entry.as_bytes()).collect();
        let (computed_old, integ) = self
            .with_tiles(old_size, |r| {
                Ok((
                    tree_hash(old_size, r)?,
                    integrate(old_size, r, &partial, &entries)?,
                ))
            })
            .await?;
        if computed_old != old_root {
            return Err(LogError::Inconsistent {
                size: old_size,
                reason: format!(
                    "stored tiles give root {} but the log state says {}",
                    computed_old.to_hex(),
                    old_root.to_hex()
                ),
            });
        }

        // Tiles and bundles first (idempotent), then sign and commit.
        let objects: Vec<(TileId, Bytes)> = integ
            .tiles
            .iter()
            .chain(&integ.bundles)
            .map(|(id, data)| (*id, Bytes::from(data.clone())))
            .collect();
        let blobs = &self.inner.blobs;
        futures::stream::iter(objects.iter().cloned())
            .map(|(id, data)| async move { blobs.log_put(&id.path(), data).await })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        let checkpoint = Checkpoint::new(&self.inner.config.origin, integ.new_size, integ.root);
        let signer: &dyn NoteSigner = &self.inner.signer;
        let note = checkpoint.sign(&[signer])?;
        let assigned: Vec<Assigned> = batch
            .pending
            .iter()
            .zip(&integ.leaf_hashes)
            .enumerate()
            .map(|(i, (p, h))| Assigned {
                id: p.id,
                index: old_size + i as u64,
                leaf_hash: h.to_hex(),
            })
            .collect();
        let n = assigned.len();
        batch
            .commit(&assigned, integ.new_size, &integ.root.to_hex(), &note)
            .await?;

        // Committed: cache the new tiles, publish the checkpoint object,
        // drop the superseded partials.
        for (id, data) in &objects {
            self.inner.cache.insert(*id, Arc::from(&data[..]));
        }
        let head = LogHead {
            size: integ.new_size,
            root: integ.root,
            checkpoint: note.clone(),
            cosigned: None,
        };
        self.set_head(head.clone());
        self.inner.heads.send_replace(Some(head));
        if let Err(e) = blobs.log_put("checkpoint", Bytes::from(note)).await {
            tracing::warn!(error = %e, "writing log/checkpoint");
        }
        if integ.new_size > old_size {
            // Superseded: the old size's partial tiles and bundle that the new
            // size does not use. A partial tile the batch left unchanged (a
            // level-1 tile while level 0 fills up) is still needed.
            let written: std::collections::HashSet<String> = objects
                .iter()
                .map(|(id, _)| id.path())
                .chain(
                    provenant_tlog::tiles_for_size(integ.new_size)
                        .iter()
                        .map(TileId::path),
                )
                .collect();
            let mut stale = provenant_tlog::tiles_for_size(old_size)
                .into_iter()
                .filter(|id| !id.is_full())
                .collect::<Vec<_>>();
            if old_size % TILE_WIDTH != 0 {
                stale.push(TileId::entries(
                    old_size / TILE_WIDTH,
                    (old_size % TILE_WIDTH) as u16,
                ));
            }
            for id in stale {
                if !written.contains(&id.path())
                    && let Err(e) = blobs.log_delete(&id.path()).await
                {
                    tracing::warn!(error = %e, tile = %id, "deleting a superseded partial tile");
                }
            }
        }
        Ok(n)
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

    /// A tile or entry bundle of the published tree, as C2SP tlog-tiles serves it.
    pub async fn tile(&self, id: TileId) -> Result<Arc<[u8]>, LogError> {
        let head = self.head(false).await?;
        let level = match id.kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        };
        let mut available = tile_width(level, id.index, head.size);
        if available.is_none_or(|w| w < id.width) {
            let head = self.head(true).await?;
            available = tile_width(level, id.index, head.size);
        }
        match available {
            Some(w) if w >= id.width => self.fetch_tile(id, head.size).await,
            _ => Err(LogError::Beyond {
                what: "tile",
                value: id.index,
                size: head.size,
            }),
        }
    }

    fn check_size(&self, size: u64, head: &LogHead) -> Result<(), LogError> {
        if size > head.size {
            return Err(LogError::Beyond {
                what: "tree size",
                value: size,
                size: head.size,
            });
        }
        Ok(())
    }

    /// Inclusion proof for `index` in the tree of `size` (default: latest).
    pub async fn inclusion(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<(u64, Vec<Hash>), LogError> {
        let given = size;
        let mut head = self.head(false).await?;
        if given.is_some_and(|s| s > head.size) || index >= given.unwrap_or(head.size) {
            head = self.head(true).await?;
        }
        let size = given.unwrap_or(head.size);
        self.check_size(size, &head)?;
        if index >= size {
            return Err(LogError::Tlog(provenant_tlog::Error::IndexOutOfRange {
                what: "leaf index",
                index,
                size,
            }));
        }
        let proof = self
            .with_nodes(size, |r| inclusion_proof(index, size, r))
            .await?;
        Ok((size, proof))
    }

    /// Consistency proof between two published sizes.
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        let mut head = self.head(false).await?;
        if new > head.size {
            head = self.head(true).await?;
        }
        self.check_size(new, &head)?;
        self.with_nodes(new, |r| consistency_proof(old, new, r))
            .await
    }

    /// Root hash of a published size.
    pub async fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.with_nodes(size, |r| tree_hash(size, r)).await
    }

    /// A hash reader's view for benchmarks: proof from cache only.
    pub async fn warm(&self, size: u64) -> Result<(), LogError> {
        for id in provenant_tlog::tiles_for_size(size) {
            let raw = self.fetch_tile(id, size).await?;
            self.inner
                .nodes
                .insert(id, Arc::new(NodeTable::build(&id, &raw)?));
        }
        Ok(())
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

    /// Forget a cached tile (tests that tamper with storage).
    pub fn forget_tile(&self, id: &TileId) {
        self.inner.cache.remove(id);
        self.inner.nodes.remove(id);
    }

    /// RFC 6962 leaf hash of an entry.
    pub fn leaf_hash(entry: &[u8]) -> Hash {
        leaf_hash(entry)
    }
}
