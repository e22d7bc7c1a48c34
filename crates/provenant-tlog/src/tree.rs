//! Addressing of the Merkle tree's stored hashes.
//!
//! A log stores the hash of every *complete* subtree: for leaf `m` it stores
//! the leaf hash, followed by the hash of each subtree that leaf completes.
//! Numbering these hashes in append order gives the *stored hash index*, the
//! same numbering as Go's `golang.org/x/mod/sumdb/tlog` (`StoredHashIndex`).
//! A node is named by its `level` (0 = leaves; a level-`l` node spans `2^l`
//! leaves) and its index `n` within the level.

use crate::error::Error;
use crate::hash::{Hash, empty_root, node_hash};

/// Reads stored hashes by stored hash index.
///
/// Implementations return exactly one hash per requested index, in request
/// order. Back it with [`crate::TileHashReader`] over object-store tiles, or
/// with a plain `[Hash]` slice indexed by stored hash index.
pub trait HashReader {
    /// Returns the hashes at `indexes`, in order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(Error::IndexOutOfRange {
                        what: "stored hash index",
                        index: i,
                        size: self.len() as u64,
                    })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.as_slice().read_hashes(indexes)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        (**self).read_hashes(indexes)
    }
}

/// Number of hashes stored for a tree of `size` leaves: `2·size − popcount(size)`.
pub fn stored_hash_count(size: u64) -> u64 {
    // 2*size can overflow only above 2^63 leaves; saturate (no such log exists).
    size.saturating_mul(2) - u64::from(size.count_ones())
}

/// Stored hash index of node `n` at `level`.
pub fn stored_hash_index(level: u8, n: u64) -> Result<u64, Error> {
    // The node is completed by leaf m = (n+1)·2^level − 1, whose own hash sits at
    // stored_hash_count(m); the `level` parents it completes follow it.
    let overflow = Error::Overflow {
        what: "stored hash index",
        level,
        index: n,
    };
    if level >= 63 {
        return Err(overflow);
    }
    let end = n
        .checked_add(1)
        .and_then(|x| x.checked_mul(1u64 << level))
        .filter(|&x| x <= 1 << 62)
        .ok_or(overflow)?;
    Ok(stored_hash_count(end - 1) + u64::from(level))
}

/// Inverse of [`stored_hash_index`]: the `(level, n)` of a stored hash index.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Find the largest leaf m with stored_hash_count(m) <= index. The count grows
    // by at least 1 per leaf and is at least 2m − 64, so m lies in
    // [index/2, index/2 + 64]: a short binary search.
    let mut lo = index / 2;
    let mut hi = (index / 2).saturating_add(65).min(index.saturating_add(1));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if stored_hash_count(mid) <= index {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let m = lo;
    // At most 63 levels follow a leaf; the cast cannot truncate.
    let level = (index - stored_hash_count(m)) as u8;
    let n = ((m + 1) >> level) - 1;
    (level, n)
}

/// A complete subtree: `2^level` leaves starting at leaf `n · 2^level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub level: u8,
    pub n: u64,
}

/// Splits leaves `[lo, hi)` into maximal aligned complete subtrees, left to
/// right. For the ranges RFC 6962 trees are built from (`lo` a multiple of a
/// power of two at least `hi − lo`) the subtrees shrink left to right, and the
/// range's hash folds them from the right.
pub(crate) fn subtrees(mut lo: u64, hi: u64, out: &mut Vec<Node>) {
    while lo < hi {
        let align = if lo == 0 { 63 } else { lo.trailing_zeros() };
        let fit = 63 - (hi - lo).leading_zeros(); // floor(log2(hi - lo))
        let level = align.min(fit);
        out.push(Node {
            level: level as u8,
            n: lo >> level,
        });
        lo += 1 << level;
    }
}

/// Folds the hashes of [`subtrees`] (left to right) into the range hash.
pub(crate) fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// The root hash of the tree of `size` leaves, from stored hashes.
pub fn tree_hash(size: u64, reader: &(impl HashReader + ?Sized)) -> Result<Hash, Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    let mut nodes = Vec::new();
    subtrees(0, size, &mut nodes);
    let indexes = nodes
        .iter()
        .map(|n| stored_hash_index(n.level, n.n))
        .collect::<Result<Vec<_>, _>>()?;
    let hashes = read_checked(reader, &indexes)?;
    // size > 0, so there is at least one subtree.
    fold_right(&hashes).ok_or(Error::IndexOutOfRange {
        what: "tree size",
        index: size,
        size,
    })
}

/// Reads hashes and checks the reader kept its contract on the count.
pub(crate) fn read_checked(
    reader: &(impl HashReader + ?Sized),
    indexes: &[u64],
) -> Result<Vec<Hash>, Error> {
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::ReaderCount {
            what: "hashes",
            expected: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// Largest power of two strictly below `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_index_matches_append_order() {
        // Enumerate stored hashes in append order and compare with the formula.
        let mut next = 0u64;
        for m in 0u64..5000 {
            assert_eq!(stored_hash_index(0, m).unwrap(), next);
            assert_eq!(split_stored_hash_index(next), (0, m));
            next += 1;
            let mut level = 0u8;
            while (m >> level) & 1 == 1 {
                level += 1;
                let n = ((m + 1) >> level) - 1;
                assert_eq!(
                    stored_hash_index(level, n).unwrap(),
                    next,
                    "level {level} n {n}"
                );
                assert_eq!(split_stored_hash_index(next), (level, n));
                next += 1;
            }
            assert_eq!(stored_hash_count(m + 1), next);
        }
    }

    #[test]
    fn go_tlog_values() {
        // Values from Go's StoredHashIndex definition, computed by hand:
        // the first stored hashes are L0#0, L0#1, L1#0, L0#2, L0#3, L1#1, L2#0, ...
        assert_eq!(stored_hash_index(1, 0).unwrap(), 2);
        assert_eq!(stored_hash_index(2, 0).unwrap(), 6);
        assert_eq!(stored_hash_index(0, 4).unwrap(), 7);
        assert_eq!(stored_hash_count(10_000_000), 2 * 10_000_000 - 8);
        assert!(stored_hash_index(63, 0).is_err());
        assert!(stored_hash_index(0, u64::MAX).is_err());
        let big = stored_hash_index(0, (1 << 61) + 12345).unwrap();
        assert_eq!(split_stored_hash_index(big), (0, (1 << 61) + 12345));
    }

    #[test]
    fn subtree_split() {
        let mut out = Vec::new();
        subtrees(0, 13, &mut out);
        assert_eq!(
            out,
            vec![
                Node { level: 3, n: 0 },
                Node { level: 2, n: 2 },
                Node { level: 0, n: 12 }
            ]
        );
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point((1 << 63) + 1), 1 << 63);
    }
}
