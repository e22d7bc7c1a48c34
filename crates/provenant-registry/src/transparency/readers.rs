//! The read side: tiles and entry bundles from the object store (a
//! superseded partial tile is served as a prefix of the current one), and
//! the hash readers proofs and the sequencer run over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use provenant_tlog::{Hash, TILE_WIDTH, TileHashReader, TileId, TileKind, TileReader, tile_width};

use super::cache::{TileCache, Weight};
use super::{LogError, TransparencyLog};

/// Tiles fetched for one operation, plus the ids still missing.
pub(super) struct Fetched<'a> {
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
pub(super) struct NodeTable {
    nodes: Vec<Hash>,
    /// Start of each height in `nodes`.
    offsets: [usize; 9],
}

impl NodeTable {
    pub(super) fn build(id: &TileId, raw: &[u8]) -> Result<Self, provenant_tlog::Error> {
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
pub(super) struct NodeReader<'a> {
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

impl Weight for Arc<NodeTable> {
    fn weight(&self) -> usize {
        self.nodes.len() * 32
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

impl TransparencyLog {
    /// Reads a tile of the tree of `size` leaves from the object store: the
    /// exact path, else a prefix of the current (wider) one.
    pub(super) async fn fetch_tile(&self, id: TileId, size: u64) -> Result<Arc<[u8]>, LogError> {
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
    pub(super) async fn with_tiles<T>(
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
    pub(super) async fn with_nodes<T>(
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
}
