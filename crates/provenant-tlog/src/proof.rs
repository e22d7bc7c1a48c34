//! Inclusion and consistency proofs: generation from stored hashes
//! (RFC 9162 §2.1.3.1 and §2.1.4.1) and verification (§2.1.3.2 and §2.1.4.2).

use crate::error::Error;
use crate::hash::{Hash, node_hash};
use crate::tree::{
    HashReader, Node, fold_right, read_checked, split_point, stored_hash_index, subtrees,
};

/// Leaf ranges `[lo, hi)` whose hashes make up the inclusion proof of `index`
/// in a tree of `size`, in proof order (bottom up).
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0, size);
    let mut top_down = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            top_down.push((lo + k, hi));
            hi = lo + k;
        } else {
            top_down.push((lo, lo + k));
            lo += k;
        }
    }
    top_down.reverse();
    top_down
}

/// Leaf ranges whose hashes make up the consistency proof from `old` to `new`
/// (`0 < old < new`), in proof order.
fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi, mut m) = (0u64, new, old);
    let mut complete_subtree = true; // RFC 9162's `b`
    let mut top_down = Vec::new();
    let mut first = None;
    loop {
        let n = hi - lo;
        if m == n {
            if !complete_subtree {
                first = Some((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            top_down.push((lo + k, hi));
            hi = lo + k;
        } else {
            top_down.push((lo, lo + k));
            lo += k;
            m -= k;
            complete_subtree = false;
        }
    }
    first
        .into_iter()
        .chain(top_down.into_iter().rev())
        .collect()
}

/// Hashes of the given leaf ranges, reading all stored hashes in one call.
fn range_hashes(
    ranges: &[(u64, u64)],
    reader: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, Error> {
    let mut nodes: Vec<Node> = Vec::with_capacity(ranges.len() * 2);
    let mut bounds = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let start = nodes.len();
        subtrees(lo, hi, &mut nodes);
        bounds.push(start..nodes.len());
    }
    let indexes = nodes
        .iter()
        .map(|n| stored_hash_index(n.level, n.n))
        .collect::<Result<Vec<_>, _>>()?;
    let hashes = read_checked(reader, &indexes)?;
    bounds
        .into_iter()
        .map(|b| {
            // Every range is non-empty, so each has at least one subtree.
            fold_right(&hashes[b]).ok_or(Error::ReaderCount {
                what: "hashes",
                expected: indexes.len(),
                got: hashes.len(),
            })
        })
        .collect()
}

/// Inclusion proof for leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    reader: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange {
            what: "leaf index",
            index,
            size,
        });
    }
    range_hashes(&inclusion_ranges(index, size), reader)
}

/// Consistency proof from the tree of `old_size` leaves to the tree of
/// `new_size` leaves. Empty when `old_size` is 0 or equals `new_size`.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    reader: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, Error> {
    if old_size > new_size {
        return Err(Error::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    range_hashes(&consistency_ranges(old_size, new_size), reader)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    let fail = |reason| Error::InclusionProof {
        index,
        size,
        reason,
    };
    if index >= size {
        return Err(Error::IndexOutOfRange {
            what: "leaf index",
            index,
            size,
        });
    }
    let expected = inclusion_ranges(index, size).len();
    if proof.len() != expected {
        return Err(Error::ProofLength {
            kind: "inclusion",
            at: format!("leaf {index} in tree size {size}"),
            expected,
            got: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(fail("proof is longer than the path to the root"));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(fail("proof is shorter than the path to the root"));
    }
    if r != *root {
        return Err(fail("computed root hash differs from the expected root"));
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2). Sizes equal: the proof
/// must be empty and the roots equal. Old size 0: the proof must be empty.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), Error> {
    let fail = |reason| Error::ConsistencyProof {
        old_size,
        new_size,
        reason,
    };
    if old_size > new_size {
        return Err(Error::SizeOrder { old_size, new_size });
    }
    let expected = if old_size == 0 || old_size == new_size {
        0
    } else {
        consistency_ranges(old_size, new_size).len()
    };
    if proof.len() != expected {
        return Err(Error::ProofLength {
            kind: "consistency",
            at: format!("tree sizes {old_size} to {new_size}"),
            expected,
            got: proof.len(),
        });
    }
    if old_size == 0 {
        return Ok(());
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(fail("same tree size but different root hashes"))
        };
    }
    // Step 2: if old_size is a power of two, the old root is the first node.
    let mut path = proof.iter();
    let seed = if old_size.is_power_of_two() {
        *old_root
    } else {
        match path.next() {
            Some(h) => *h,
            None => return Err(fail("empty proof")),
        }
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in path {
        if s == 0 {
            return Err(fail("proof is longer than the path to the root"));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(fail("proof is shorter than the path to the root"));
    }
    if fr != *old_root {
        return Err(fail(
            "computed old root hash differs from the expected old root",
        ));
    }
    if sr != *new_root {
        return Err(fail(
            "computed new root hash differs from the expected new root",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_shapes() {
        // RFC 9162 §2.1.5 example tree of 7 leaves (a..g).
        assert_eq!(inclusion_ranges(0, 7), vec![(1, 2), (2, 4), (4, 7)]);
        assert_eq!(inclusion_ranges(3, 7), vec![(2, 3), (0, 2), (4, 7)]);
        assert_eq!(inclusion_ranges(4, 7), vec![(5, 6), (6, 7), (0, 4)]);
        assert_eq!(inclusion_ranges(6, 7), vec![(4, 6), (0, 4)]);
        assert_eq!(
            consistency_ranges(3, 7),
            vec![(2, 3), (3, 4), (0, 2), (4, 7)]
        );
        assert_eq!(consistency_ranges(4, 7), vec![(4, 7)]);
        assert_eq!(consistency_ranges(6, 7), vec![(4, 6), (6, 7), (0, 4)]);
    }
}
