//! Batched integration, the pure part of a sequencer: append a batch of
//! entries to a tree and compute every stored hash, tile, entry bundle and
//! the new root that the storage layer must write.

use std::collections::HashMap;

use crate::error::Error;
use crate::hash::{Hash, empty_root, leaf_hash, node_hash};
use crate::tile::{
    TILE_HEIGHT, TILE_WIDTH, TileHashReader, TileId, TileKind, TileReader, parse_entry_bundle,
    push_entry,
};
use crate::tree::{
    HashReader, read_checked, stored_hash_count, stored_hash_index, subtrees, tree_hash,
};

/// Largest tree this crate will build (keeps all index arithmetic in range).
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Everything a batch changes. Write `bundles` and `tiles` (any order), then
/// sign a checkpoint for (`new_size`, `root`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integration {
    /// Tree size before the batch; the batch's first entry has this index.
    pub old_size: u64,
    /// Tree size after the batch.
    pub new_size: u64,
    /// Root hash of the tree of `new_size` leaves.
    pub root: Hash,
    /// RFC 6962 leaf hash of each entry, in batch order.
    pub leaf_hashes: Vec<Hash>,
    /// Stored hash index of `stored_hashes[0]` (= `stored_hash_count(old_size)`).
    pub first_stored_index: u64,
    /// Every new stored hash (leaves and completed subtrees), consecutive from
    /// `first_stored_index`, as Go's `tlog.StoredHashes` would list them.
    pub stored_hashes: Vec<Hash>,
    /// Every hash tile that changed, full or partial, with its full contents.
    pub tiles: Vec<(TileId, Vec<u8>)>,
    /// Every entry bundle that changed, full or partial, with its full contents.
    pub bundles: Vec<(TileId, Vec<u8>)>,
}

/// Integrates `entries` into the tree of `old_size` leaves.
///
/// `reader` must serve the existing tree's stored hashes (only the right edge
/// and the rightmost partial tiles are read, in one call); `partial_bundle` is
/// the current rightmost partial entry bundle (`old_size % 256` entries; empty
/// when `old_size` is a multiple of 256).
pub fn integrate<E: AsRef<[u8]>>(
    old_size: u64,
    reader: &(impl HashReader + ?Sized),
    partial_bundle: &[u8],
    entries: &[E],
) -> Result<Integration, Error> {
    let new_size = old_size
        .checked_add(entries.len() as u64)
        .filter(|&s| s <= MAX_TREE_SIZE)
        .ok_or(Error::IndexOutOfRange {
            what: "new tree size",
            index: old_size.saturating_add(entries.len() as u64),
            size: MAX_TREE_SIZE,
        })?;
    let first_stored_index = stored_hash_count(old_size);
    if entries.is_empty() {
        return Ok(Integration {
            old_size,
            new_size,
            root: tree_hash(old_size, reader)?,
            leaf_hashes: Vec::new(),
            first_stored_index,
            stored_hashes: Vec::new(),
            tiles: Vec::new(),
            bundles: Vec::new(),
        });
    }

    // The existing partial bundle must hold exactly old_size % 256 entries.
    let old_in_bundle = (old_size % TILE_WIDTH) as u16;
    let bundle_index = old_size / TILE_WIDTH;
    if old_in_bundle == 0 {
        if !partial_bundle.is_empty() {
            return Err(Error::EntryBundle {
                bundle: TileId::entries(bundle_index, 256).path(),
                offset: 0,
                reason: format!(
                    "tree size {old_size} ends on a bundle boundary, but a partial bundle of {} bytes was given",
                    partial_bundle.len()
                ),
            });
        }
    } else {
        parse_entry_bundle(
            &TileId::entries(bundle_index, old_in_bundle),
            partial_bundle,
        )?;
    }

    // What to read: the right edge (one complete subtree per set bit of
    // old_size), then the hashes already in each rightmost partial tile that
    // this batch extends.
    let mut edge = Vec::new();
    subtrees(0, old_size, &mut edge);
    let mut indexes = edge
        .iter()
        .map(|n| stored_hash_index(n.level, n.n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut levels: Vec<TileLevel> = Vec::new();
    for t in 0u8.. {
        let shift = u32::from(t) * u32::from(TILE_HEIGHT);
        let old_count = old_size.checked_shr(shift).unwrap_or(0);
        let new_count = new_size.checked_shr(shift).unwrap_or(0);
        if new_count == old_count {
            break;
        }
        let start = old_count - old_count % TILE_WIDTH;
        let read_from = indexes.len();
        for j in start..old_count {
            indexes.push(stored_hash_index(t * TILE_HEIGHT, j)?);
        }
        levels.push(TileLevel {
            start,
            read: read_from..indexes.len(),
            hashes: Vec::with_capacity((new_count - start) as usize),
        });
    }
    let read = read_checked(reader, &indexes)?;
    let mut stack: Vec<(u8, Hash)> = edge
        .iter()
        .zip(&read)
        .map(|(node, h)| (node.level, *h))
        .collect();
    for level in &mut levels {
        level.hashes.extend_from_slice(&read[level.read.clone()]);
    }

    // Append the entries.
    let mut leaf_hashes = Vec::with_capacity(entries.len());
    let mut stored_hashes = Vec::with_capacity(entries.len() * 2 + 1);
    let mut bundles = Vec::new();
    let mut bundle_bytes = Vec::with_capacity(partial_bundle.len() + 256 * 64);
    bundle_bytes.extend_from_slice(partial_bundle);
    let mut in_bundle = u64::from(old_in_bundle);
    let mut bundle_index = bundle_index;
    for (position, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let index = old_size + position as u64;
        push_entry(&mut bundle_bytes, entry, position)?;
        in_bundle += 1;
        if in_bundle == TILE_WIDTH {
            bundles.push((
                TileId::entries(bundle_index, 256),
                std::mem::take(&mut bundle_bytes),
            ));
            bundle_index += 1;
            in_bundle = 0;
        }

        let mut h = leaf_hash(entry);
        leaf_hashes.push(h);
        stored_hashes.push(h);
        levels[0].hashes.push(h);
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            // Leaf `index` completes the subtree whose left sibling is on the stack.
            let Some((_, left)) = stack.pop() else {
                return Err(Error::Overflow {
                    what: "right edge of the tree",
                    level,
                    index,
                });
            };
            h = node_hash(&left, &h);
            level += 1;
            stored_hashes.push(h);
            if level.is_multiple_of(TILE_HEIGHT) {
                levels[usize::from(level / TILE_HEIGHT)].hashes.push(h);
            }
        }
        stack.push((level, h));
    }
    if in_bundle > 0 {
        bundles.push((
            TileId::entries(bundle_index, in_bundle as u16),
            bundle_bytes,
        ));
    }

    let root = stack
        .iter()
        .rev()
        .map(|(_, h)| *h)
        .reduce(|right, left| node_hash(&left, &right))
        .unwrap_or_else(empty_root);

    let mut tiles = Vec::new();
    for (t, level) in levels.iter().enumerate() {
        for (k, chunk) in level.hashes.chunks(TILE_WIDTH as usize).enumerate() {
            let index = level.start / TILE_WIDTH + k as u64;
            let data: Vec<u8> = chunk.iter().flat_map(|h| h.0).collect();
            tiles.push((TileId::hashes(t as u8, index, chunk.len() as u16), data));
        }
    }

    Ok(Integration {
        old_size,
        new_size,
        root,
        leaf_hashes,
        first_stored_index,
        stored_hashes,
        tiles,
        bundles,
    })
}

/// Hashes at tree level `8·t` from the first changed tile's start.
struct TileLevel {
    start: u64,
    read: std::ops::Range<usize>,
    hashes: Vec<Hash>,
}

/// An in-memory log: tiles and entry bundles in hash maps. The reference
/// storage for tests and benchmarks, and a model of what the object store
/// holds (one object per tile path; the latest partial tile kept until full).
#[derive(Default)]
pub struct MemoryLog {
    size: u64,
    tiles: HashMap<(TileKind, u64), Vec<u8>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    /// Current tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads stored hashes of the current tree from the tiles.
    pub fn hash_reader(&self) -> TileHashReader<'_, MemoryLog> {
        TileHashReader::new(self.size, self)
    }

    /// Root hash of the current tree.
    pub fn root(&self) -> Result<Hash, Error> {
        tree_hash(self.size, &self.hash_reader())
    }

    /// Integrates a batch and stores its tiles and bundles.
    pub fn append<E: AsRef<[u8]>>(&mut self, entries: &[E]) -> Result<Integration, Error> {
        let partial = match self.size % TILE_WIDTH {
            0 => Vec::new(),
            _ => self
                .tiles
                .get(&(TileKind::Entries, self.size / TILE_WIDTH))
                .cloned()
                .unwrap_or_default(),
        };
        let integration = integrate(self.size, &self.hash_reader(), &partial, entries)?;
        self.apply(&integration);
        Ok(integration)
    }

    /// Stores an integration's tiles and bundles and advances the size.
    pub fn apply(&mut self, integration: &Integration) {
        for (id, data) in integration.tiles.iter().chain(&integration.bundles) {
            self.tiles.insert((id.kind, id.index), data.clone());
        }
        self.size = integration.new_size;
    }

    /// The stored bytes of a tile or bundle (the longest version held), for
    /// tests that tamper with storage.
    pub fn object_mut(&mut self, kind: TileKind, index: u64) -> Option<&mut Vec<u8>> {
        self.tiles.get_mut(&(kind, index))
    }
}

impl TileReader for MemoryLog {
    type Tile<'a> = &'a [u8];

    fn read_tiles<'a>(&'a self, ids: &[TileId]) -> Result<Vec<&'a [u8]>, Error> {
        ids.iter()
            .map(|id| {
                let data = self
                    .tiles
                    .get(&(id.kind, id.index))
                    .ok_or_else(|| Error::storage(format!("reading {id}"), "no such tile"))?;
                Ok(match id.kind {
                    // Serve the requested width from a possibly wider tile.
                    TileKind::Hashes(_) => data.get(..id.hash_tile_len()).unwrap_or(data),
                    TileKind::Entries => bundle_prefix(data, id.width),
                })
            })
            .collect()
    }
}

/// The first `width` entries of an entry bundle (all of it if shorter).
fn bundle_prefix(data: &[u8], width: u16) -> &[u8] {
    let mut offset = 0usize;
    for _ in 0..width {
        let Some(len) = data.get(offset..offset + 2) else {
            return data;
        };
        offset += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    data.get(..offset).unwrap_or(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrate_matches_appending_one_by_one() {
        let entries: Vec<Vec<u8>> = (0u32..1000).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut one = MemoryLog::new();
        for e in &entries {
            one.append(std::slice::from_ref(e)).unwrap();
        }
        let mut batched = MemoryLog::new();
        for chunk in entries.chunks(77) {
            batched.append(chunk).unwrap();
        }
        assert_eq!(one.root().unwrap(), batched.root().unwrap());
        assert_eq!(one.tiles, batched.tiles);
    }

    #[test]
    fn stored_hashes_are_consecutive_and_complete() {
        let entries: Vec<Vec<u8>> = (0u32..600).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut all: Vec<Hash> = Vec::new();
        let mut size = 0u64;
        let mut bundle = Vec::new();
        for chunk in entries.chunks(130) {
            let integ = integrate(size, &all, &bundle, chunk).unwrap();
            assert_eq!(integ.first_stored_index, all.len() as u64);
            all.extend_from_slice(&integ.stored_hashes);
            size = integ.new_size;
            assert_eq!(all.len() as u64, stored_hash_count(size));
            assert_eq!(tree_hash(size, &all).unwrap(), integ.root);
            bundle = match integ.bundles.last() {
                Some((id, data)) if !id.is_full() => data.clone(),
                _ => Vec::new(),
            };
        }
    }

    #[test]
    fn rejects_a_partial_bundle_of_the_wrong_size() {
        let mut log = MemoryLog::new();
        log.append(&[b"a", b"b", b"c"]).unwrap();
        let wrong = crate::tile::encode_entry_bundle(&[b"a", b"b"]).unwrap();
        let err = integrate(3, &log.hash_reader(), &wrong, &[b"d"]).unwrap_err();
        assert!(err.to_string().contains("tile/entries/000.p/3"), "{err}");
        let err = integrate(256, &log.hash_reader(), b"\x00\x01a", &[b"d"]).unwrap_err();
        assert!(matches!(err, Error::EntryBundle { .. }), "{err}");
    }
}
