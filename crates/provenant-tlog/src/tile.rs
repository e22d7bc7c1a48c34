//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile addressing, URL
//! paths, entry bundles, and a [`HashReader`] over tiles.

use std::collections::HashMap;
use std::fmt;

use crate::error::Error;
use crate::hash::{HASH_SIZE, Hash, leaf_hash, node_hash};
use crate::tree::{HashReader, split_stored_hash_index};

/// Tile height: each tile spans 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile (or entry bundle).
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level the path syntax allows.
pub const MAX_TILE_LEVEL: u8 = 63;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Merkle tree hashes at tile level `L` (tree level `8·L`).
    Hashes(u8),
    /// An entry bundle (`tile/entries/...`).
    Entries,
}

/// One tile or entry bundle: kind, index within its level, and width
/// (1..=256; 256 is a full tile, anything less a partial tile `.p/<W>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub kind: TileKind,
    pub index: u64,
    pub width: u16,
}

impl TileId {
    /// A hash tile. `width` must be 1..=256 (not checked here; see [`TileId::parse`]).
    pub fn hashes(level: u8, index: u64, width: u16) -> TileId {
        TileId {
            kind: TileKind::Hashes(level),
            index,
            width,
        }
    }

    /// An entry bundle.
    pub fn entries(index: u64, width: u16) -> TileId {
        TileId {
            kind: TileKind::Entries,
            index,
            width,
        }
    }

    /// Whether this is a full (256-wide) tile: immutable and cacheable forever.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The full tile this (possibly partial) tile grows into.
    pub fn full(&self) -> TileId {
        TileId {
            width: TILE_WIDTH as u16,
            ..*self
        }
    }

    /// Byte length of a hash tile of this width (`32 · width`).
    pub fn hash_tile_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The URL path below the log prefix, e.g. `tile/0/x001/x234/067.p/8`
    /// or `tile/entries/000`.
    pub fn path(&self) -> String {
        let mut out = String::from("tile/");
        match self.kind {
            TileKind::Hashes(level) => out.push_str(&level.to_string()),
            TileKind::Entries => out.push_str("entries"),
        }
        out.push('/');
        out.push_str(&encode_index(self.index));
        if !self.is_full() {
            out.push_str(".p/");
            out.push_str(&self.width.to_string());
        }
        out
    }

    /// Parses a path as produced by [`TileId::path`]; a leading `/` is
    /// accepted. Rejects anything non-canonical: leading zeros, superfluous
    /// `x000` elements, widths outside 1..=255 after `.p/`, levels above 63.
    pub fn parse(path: &str) -> Result<TileId, Error> {
        let bad = |reason| Error::TilePath {
            path: path.to_owned(),
            reason,
        };
        let rest = path.strip_prefix('/').unwrap_or(path);
        let rest = rest
            .strip_prefix("tile/")
            .ok_or(bad("does not start with tile/"))?;
        let (kind_str, rest) = rest.split_once('/').ok_or(bad("missing tile index"))?;
        let kind = if kind_str == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(kind_str).ok_or(bad("level is not a canonical decimal"))?;
            let level = u8::try_from(level)
                .ok()
                .filter(|l| *l <= MAX_TILE_LEVEL)
                .ok_or(bad("level above 63"))?;
            TileKind::Hashes(level)
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((index_str, w)) => {
                let w = parse_decimal(w).ok_or(bad("width is not a canonical decimal"))?;
                let w = u16::try_from(w)
                    .ok()
                    .filter(|w| (1..TILE_WIDTH as u16).contains(w))
                    .ok_or(bad("partial width must be 1..=255"))?;
                (index_str, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_index(index_str).ok_or(bad("index is not x-prefixed 3-digit groups"))?;
        Ok(TileId { kind, index, width })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// `1234067` → `x001/x234/067`.
fn encode_index(mut n: u64) -> String {
    let mut groups = vec![n % 1000];
    n /= 1000;
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    let mut out = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    out
}

fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, init) = parts.split_last()?;
    let mut n: u64 = 0;
    for (i, part) in init.iter().enumerate() {
        let digits = part.strip_prefix('x')?;
        let g = three_digits(digits)?;
        if i == 0 && g == 0 {
            return None; // non-canonical leading x000
        }
        n = n.checked_mul(1000)?.checked_add(g)?;
    }
    n.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(s: &str) -> Option<u64> {
    if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// ASCII decimal with no leading zeros (except `0` itself).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Width of the tile at `level`, `index` in a tree of `size` leaves, or
/// `None` if that tile does not exist (is empty) at that size.
pub fn tile_width(level: u8, index: u64, size: u64) -> Option<u16> {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    let count = size.checked_shr(shift).unwrap_or(0); // hashes at tree level 8·level
    let start = index.checked_mul(TILE_WIDTH)?;
    if count <= start {
        return None;
    }
    Some((count - start).min(TILE_WIDTH) as u16)
}

/// Every hash tile of a tree of `size` leaves (full and rightmost partial
/// ones), level by level — what a full audit or mirror fetches.
pub fn tiles_for_size(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let count = size.checked_shr(shift).unwrap_or(0);
        if count == 0 {
            break;
        }
        for index in 0..count.div_ceil(TILE_WIDTH) {
            if let Some(w) = tile_width(level, index, size) {
                out.push(TileId::hashes(level, index, w));
            }
        }
        level += 1;
    }
    out
}

/// The entry bundle holding leaf `index` in a tree of `size` leaves.
pub fn entry_bundle_for(index: u64, size: u64) -> Option<TileId> {
    let bundle = index / TILE_WIDTH;
    tile_width(0, bundle, size).map(|w| TileId::entries(bundle, w))
}

/// Reads tiles (and entry bundles) by id, from object storage or a cache.
///
/// Implementations return one tile per requested id, in order, with exactly
/// the requested width (a reader that only has a wider tile may return its
/// prefix). Tile contents are checked by the caller.
pub trait TileReader {
    /// The bytes of one tile (e.g. `Vec<u8>`, `&[u8]`, `Arc<[u8]>`).
    type Tile<'a>: AsRef<[u8]>
    where
        Self: 'a;

    /// Returns the tiles at `ids`, in order.
    fn read_tiles<'a>(&'a self, ids: &[TileId]) -> Result<Vec<Self::Tile<'a>>, Error>;
}

/// A [`HashReader`] for the tree of a given size over a [`TileReader`]: maps
/// stored hash indexes to tiles, fetches each needed tile once per call,
/// checks tile lengths, and rebuilds the hashes between tile levels.
pub struct TileHashReader<'r, R: ?Sized> {
    size: u64,
    tiles: &'r R,
}

impl<'r, R: TileReader + ?Sized> TileHashReader<'r, R> {
    /// Reads hashes of the tree of `size` leaves from `tiles`.
    pub fn new(size: u64, tiles: &'r R) -> Self {
        TileHashReader { size, tiles }
    }
}

impl<R: TileReader + ?Sized> HashReader for TileHashReader<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        // Where each requested hash lives: (tile slot, first hash, 2^height).
        let mut ids: Vec<TileId> = Vec::new();
        let mut slot_of: HashMap<TileId, usize> = HashMap::new();
        let mut wants = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let (level, n) = split_stored_hash_index(index);
            let exists = n
                .checked_add(1)
                .and_then(|x| x.checked_shl(u32::from(level)).filter(|y| y >> level == x))
                .is_some_and(|end| end <= self.size);
            if !exists {
                return Err(Error::IndexOutOfRange {
                    what: "stored hash index",
                    index,
                    size: self.size,
                });
            }
            let tile_level = level / TILE_HEIGHT;
            let height = level % TILE_HEIGHT;
            let pos = n << height; // position among the hashes at tree level 8·tile_level
            let tile_index = pos / TILE_WIDTH;
            let offset = (pos % TILE_WIDTH) as usize;
            let width =
                tile_width(tile_level, tile_index, self.size).ok_or(Error::IndexOutOfRange {
                    what: "stored hash index",
                    index,
                    size: self.size,
                })?;
            let id = TileId::hashes(tile_level, tile_index, width);
            let slot = *slot_of.entry(id).or_insert_with(|| {
                ids.push(id);
                ids.len() - 1
            });
            wants.push((slot, offset, 1usize << height));
        }
        let tiles = self.tiles.read_tiles(&ids)?;
        if tiles.len() != ids.len() {
            return Err(Error::ReaderCount {
                what: "tiles",
                expected: ids.len(),
                got: tiles.len(),
            });
        }
        for (id, tile) in ids.iter().zip(&tiles) {
            if tile.as_ref().len() != id.hash_tile_len() {
                return Err(Error::TileLength {
                    tile: id.path(),
                    expected: id.hash_tile_len(),
                    got: tile.as_ref().len(),
                });
            }
        }
        Ok(wants
            .into_iter()
            .map(|(slot, offset, count)| {
                subtree_hash(
                    &tiles[slot].as_ref()[offset * HASH_SIZE..(offset + count) * HASH_SIZE],
                )
            })
            .collect())
    }
}

/// Root of the complete subtree whose leaves are the concatenated hashes in
/// `bytes` (a power-of-two count of hashes, at most 128).
fn subtree_hash(bytes: &[u8]) -> Hash {
    let mut level: Vec<Hash> = bytes
        .chunks_exact(HASH_SIZE)
        .filter_map(Hash::from_slice)
        .collect();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level.first().copied().unwrap_or_default()
}

/// Encodes entries as an entry bundle: each entry as a big-endian uint16
/// length followed by its bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for (position, e) in entries.iter().enumerate() {
        push_entry(&mut out, e.as_ref(), position)?;
    }
    Ok(out)
}

pub(crate) fn push_entry(out: &mut Vec<u8>, entry: &[u8], position: usize) -> Result<(), Error> {
    let len = u16::try_from(entry.len()).map_err(|_| Error::EntryTooLarge {
        position,
        len: entry.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    Ok(())
}

/// Splits an entry bundle into its entries. `id` names the bundle in errors
/// and fixes how many entries it must hold (its width).
pub fn parse_entry_bundle<'b>(id: &TileId, bytes: &'b [u8]) -> Result<Vec<&'b [u8]>, Error> {
    let mut out = Vec::with_capacity(usize::from(id.width));
    let mut offset = 0usize;
    while offset < bytes.len() {
        let bad = |reason: String| Error::EntryBundle {
            bundle: id.path(),
            offset,
            reason,
        };
        let Some(len_bytes) = bytes.get(offset..offset + 2) else {
            return Err(bad("truncated length prefix".into()));
        };
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let Some(entry) = bytes.get(offset + 2..offset + 2 + len) else {
            return Err(bad(format!(
                "entry {} declares {len} bytes but only {} remain",
                out.len(),
                bytes.len() - offset - 2
            )));
        };
        if out.len() == usize::from(id.width) {
            return Err(bad(format!("more than {} entries", id.width)));
        }
        out.push(entry);
        offset += 2 + len;
    }
    if out.len() != usize::from(id.width) {
        return Err(Error::EntryBundle {
            bundle: id.path(),
            offset,
            reason: format!("holds {} entries, expected {}", out.len(), id.width),
        });
    }
    Ok(out)
}

/// Checks an entry bundle against the level-0 tile with the same index and
/// width: each entry must hash to the corresponding leaf hash. Returns the
/// entries.
pub fn verify_entry_bundle<'b>(
    bundle_id: &TileId,
    bundle: &'b [u8],
    tile: &[u8],
) -> Result<Vec<&'b [u8]>, Error> {
    let tile_id = TileId::hashes(0, bundle_id.index, bundle_id.width);
    if tile.len() != tile_id.hash_tile_len() {
        return Err(Error::TileLength {
            tile: tile_id.path(),
            expected: tile_id.hash_tile_len(),
            got: tile.len(),
        });
    }
    let entries = parse_entry_bundle(bundle_id, bundle)?;
    for (i, (entry, want)) in entries.iter().zip(tile.chunks_exact(HASH_SIZE)).enumerate() {
        if leaf_hash(entry).0[..] != *want {
            return Err(Error::EntryMismatch {
                index: bundle_id.index * TILE_WIDTH + i as u64,
                bundle: bundle_id.path(),
                tile: tile_id.path(),
            });
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(
            TileId::hashes(0, 1_234_067, 256).path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(TileId::hashes(2, 0, 1).path(), "tile/2/000.p/1");
        assert_eq!(
            TileId::entries(1000, 17).path(),
            "tile/entries/x001/000.p/17"
        );
        assert_eq!(
            TileId::hashes(63, u64::MAX, 256).path(),
            "tile/63/x018/x446/x744/x073/x709/x551/615"
        );
        for id in [
            TileId::hashes(0, 1_234_067, 256),
            TileId::hashes(5, 999, 255),
            TileId::entries(0, 1),
            TileId::entries(1_000_000, 256),
            TileId::hashes(63, u64::MAX, 3),
        ] {
            assert_eq!(TileId::parse(&id.path()).unwrap(), id);
            assert_eq!(TileId::parse(&format!("/{}", id.path())).unwrap(), id);
        }
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in [
            "",
            "tile/",
            "tile/0",
            "tile/0/",
            "tile/00/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x001/x002",
            "tile/0/x01/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/05",
            "tile/0/000.p/",
            "tile/0/000.p/1/",
            "tile/entries/000.p/x",
            "tile/entry/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/+12",
            "tiles/0/000",
            "tile/0/000/",
        ] {
            let err = TileId::parse(bad).unwrap_err();
            assert!(
                matches!(err, Error::TilePath { ref path, .. } if path == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn widths_match_spec_example() {
        // A tree of size 70,000: 273 full level-0 tiles, a partial level-0 tile of
        // width 112, one full level-1 tile, a partial level-1 tile of width 17 and a
        // partial level-2 tile of width 1.
        let tiles = tiles_for_size(70_000);
        let l0: Vec<_> = tiles
            .iter()
            .filter(|t| t.kind == TileKind::Hashes(0))
            .collect();
        assert_eq!(l0.len(), 274);
        assert_eq!(l0.iter().filter(|t| t.is_full()).count(), 273);
        assert_eq!(l0.last().unwrap().width, 112);
        let l1: Vec<_> = tiles
            .iter()
            .filter(|t| t.kind == TileKind::Hashes(1))
            .collect();
        assert_eq!(
            l1.iter().map(|t| t.width).collect::<Vec<_>>(),
            vec![256, 17]
        );
        let l2: Vec<_> = tiles
            .iter()
            .filter(|t| t.kind == TileKind::Hashes(2))
            .collect();
        assert_eq!(l2.iter().map(|t| t.width).collect::<Vec<_>>(), vec![1]);
        assert_eq!(tiles.len(), 274 + 2 + 1);
        // Size 256: one full level-0 tile and a level-1 tile of width 1.
        assert_eq!(
            tiles_for_size(256),
            vec![TileId::hashes(0, 0, 256), TileId::hashes(1, 0, 1)]
        );
        assert!(tiles_for_size(0).is_empty());
    }

    #[test]
    fn entry_bundles_round_trip_and_reject_tampering() {
        let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), vec![], vec![7u8; 300]];
        let bytes = encode_entry_bundle(&entries).unwrap();
        assert_eq!(&bytes[..5], &[0, 1, b'a', 0, 0]);
        let id = TileId::entries(4, 3);
        assert_eq!(
            parse_entry_bundle(&id, &bytes).unwrap(),
            entries.iter().map(|e| e.as_slice()).collect::<Vec<_>>()
        );
        // Truncated.
        let err = parse_entry_bundle(&id, &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("tile/entries/004.p/3"), "{err}");
        assert!(matches!(err, Error::EntryBundle { offset: 5, .. }), "{err}");
        // Wrong count.
        assert!(parse_entry_bundle(&TileId::entries(4, 4), &bytes).is_err());
        assert!(parse_entry_bundle(&TileId::entries(4, 2), &bytes).is_err());
        // Too large an entry.
        let err = encode_entry_bundle(&[vec![0u8; 65_536]]).unwrap_err();
        assert!(matches!(
            err,
            Error::EntryTooLarge {
                position: 0,
                len: 65_536
            }
        ));
        // Modified entry detected against the level-0 tile.
        let tile: Vec<u8> = entries.iter().flat_map(|e| leaf_hash(e).0).collect();
        assert!(verify_entry_bundle(&id, &bytes, &tile).is_ok());
        let mut tampered = bytes.clone();
        tampered[2] = b'b';
        let err = verify_entry_bundle(&id, &tampered, &tile).unwrap_err();
        assert!(
            matches!(err, Error::EntryMismatch { index: 1024, .. }),
            "{err}"
        );
        let err = verify_entry_bundle(&id, &bytes, &tile[..64]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TileLength {
                    expected: 96,
                    got: 64,
                    ..
                }
            ),
            "{err}"
        );
    }
}
