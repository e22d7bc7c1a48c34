//! Merkle tree, proofs and tiles against RFC 6962 vectors and a naive
//! recursive reference implementation.

use std::collections::HashMap;

use provenant_tlog::{
    Hash, HashReader, MemoryLog, TileHashReader, consistency_proof, inclusion_proof, integrate,
    leaf_hash, node_hash, stored_hash_count, tree_hash, verify_consistency, verify_inclusion,
};

fn h(s: &str) -> Hash {
    Hash::from_hex(s).unwrap()
}

// RFC 6962 test data (as published with Certificate Transparency).
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rfc_log() -> (Vec<Hash>, Vec<Vec<u8>>) {
    let entries: Vec<Vec<u8>> = LEAVES.iter().map(|l| unhex(l)).collect();
    let integ = integrate(0, &Vec::<Hash>::new(), &[], &entries).unwrap();
    (integ.stored_hashes, entries)
}

#[test]
fn rfc6962_roots_inclusion_and_consistency_vectors() {
    let (stored, entries) = rfc_log();
    for n in 1..=8u64 {
        assert_eq!(
            tree_hash(n, &stored).unwrap(),
            h(ROOTS[n as usize - 1]),
            "size {n}"
        );
    }
    assert_eq!(
        tree_hash(0, &stored).unwrap().to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let root8 = h(ROOTS[7]);
    let p0 = inclusion_proof(0, 8, &stored).unwrap();
    assert_eq!(
        p0,
        vec![
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ]
    );
    verify_inclusion(&leaf_hash(&entries[0]), 0, 8, &p0, &root8).unwrap();
    let p5 = inclusion_proof(5, 8, &stored).unwrap();
    assert_eq!(
        p5,
        vec![
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    let c28 = consistency_proof(2, 8, &stored).unwrap();
    assert_eq!(
        c28,
        vec![
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ]
    );
    verify_consistency(2, 8, &c28, &h(ROOTS[1]), &root8).unwrap();
    let c68 = consistency_proof(6, 8, &stored).unwrap();
    assert_eq!(
        c68,
        vec![
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    verify_consistency(6, 8, &c68, &h(ROOTS[5]), &root8).unwrap();
    let c25 = consistency_proof(2, 5, &stored).unwrap();
    assert_eq!(
        c25,
        vec![
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ]
    );
    verify_consistency(2, 5, &c25, &h(ROOTS[1]), &h(ROOTS[4])).unwrap();
    assert!(verify_consistency(2, 5, &c25, &h(ROOTS[2]), &h(ROOTS[4])).is_err());
}

/// The naive reference: RFC 9162 §2.1 definitions, recursive over leaf hashes,
/// memoised so every (size, index) pair up to 300 stays cheap.
struct Naive {
    leaves: Vec<Hash>,
    memo: HashMap<(usize, usize), Hash>,
}

impl Naive {
    fn mth(&mut self, lo: usize, hi: usize) -> Hash {
        if let Some(h) = self.memo.get(&(lo, hi)) {
            return *h;
        }
        let out = if hi - lo == 1 {
            self.leaves[lo]
        } else {
            let k = (hi - lo).next_power_of_two() / 2;
            let l = self.mth(lo, lo + k);
            let r = self.mth(lo + k, hi);
            node_hash(&l, &r)
        };
        self.memo.insert((lo, hi), out);
        out
    }

    fn path(&mut self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        if hi - lo == 1 {
            return vec![];
        }
        let k = (hi - lo).next_power_of_two() / 2;
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    fn subproof(&mut self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = n.next_power_of_two() / 2;
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

#[test]
fn proofs_match_naive_reference_for_all_sizes_up_to_300() {
    let entries: Vec<Vec<u8>> = (0u32..300)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    let mut log = MemoryLog::new();
    let mut stored: Vec<Hash> = Vec::new();
    let mut naive = Naive {
        leaves: entries.iter().map(|e| leaf_hash(e)).collect(),
        memo: HashMap::new(),
    };
    let mut roots = vec![provenant_tlog::empty_root()];
    // Grow one entry at a time: every size 1..=300 is a real tree state.
    for e in &entries {
        let integ = log.append(std::slice::from_ref(e)).unwrap();
        stored.extend_from_slice(&integ.stored_hashes);
        roots.push(integ.root);
    }
    assert_eq!(stored.len() as u64, stored_hash_count(300));
    let tiles = TileHashReader::new(300, &log);
    for n in 1..=300usize {
        let root = naive.mth(0, n);
        assert_eq!(roots[n], root, "root of size {n}");
        assert_eq!(tree_hash(n as u64, &stored).unwrap(), root);
        for m in 0..n {
            let want = naive.path(m, 0, n);
            let got = inclusion_proof(m as u64, n as u64, &stored).unwrap();
            assert_eq!(got, want, "inclusion {m} in {n}");
            verify_inclusion(&naive.leaves[m], m as u64, n as u64, &got, &root).unwrap();
            if n > 1 {
                // The same proof must fail for a neighbouring index or size.
                let other = (m + 1) % n;
                assert!(
                    verify_inclusion(&naive.leaves[m], other as u64, n as u64, &got, &root)
                        .is_err()
                );
                assert!(
                    verify_inclusion(&naive.leaves[other], m as u64, n as u64, &got, &root)
                        .is_err()
                );
                // Checked against the root of another size, it fails.
                assert!(
                    verify_inclusion(&naive.leaves[m], m as u64, n as u64, &got, &roots[n - 1])
                        .is_err()
                );
            }
        }
        for m in 1..=n {
            let want = if m == n {
                vec![]
            } else {
                naive.subproof(m, 0, n, true)
            };
            let got = consistency_proof(m as u64, n as u64, &stored).unwrap();
            assert_eq!(got, want, "consistency {m} -> {n}");
            verify_consistency(m as u64, n as u64, &got, &roots[m], &root).unwrap();
            if m < n {
                assert!(
                    verify_consistency(m as u64, n as u64, &got, &roots[m - 1], &root).is_err()
                );
                assert!(
                    verify_consistency(m as u64, n as u64, &got, &roots[m], &roots[n - 1]).is_err()
                );
            }
        }
    }
    // Proofs from tiles (at the final size) equal proofs from stored hashes.
    for m in [0u64, 1, 7, 128, 255, 256, 257, 299] {
        assert_eq!(
            inclusion_proof(m, 300, &tiles).unwrap(),
            inclusion_proof(m, 300, &stored).unwrap()
        );
    }
    for m in [1u64, 3, 200, 256, 299, 300] {
        assert_eq!(
            consistency_proof(m, 300, &tiles).unwrap(),
            consistency_proof(m, 300, &stored).unwrap()
        );
    }
}

/// A small deterministic PRNG (xorshift) for random pairs.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn random_pairs_over_multiple_tile_levels() {
    // 70,000 entries: three tile levels, partial tiles at each.
    let mut log = MemoryLog::new();
    let mut stored: Vec<Hash> = Vec::new();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut roots = vec![provenant_tlog::empty_root()];
    let mut size = 0u64;
    let mut sizes = vec![0u64];
    while size < 70_000 {
        let batch = 1 + rng.below(4096);
        let entries: Vec<Vec<u8>> = (size..size + batch)
            .map(|i| i.to_le_bytes().to_vec())
            .collect();
        let integ = log.append(&entries).unwrap();
        stored.extend_from_slice(&integ.stored_hashes);
        size = integ.new_size;
        roots.push(integ.root);
        sizes.push(size);
        assert_eq!(log.root().unwrap(), integ.root);
    }
    let tiles = TileHashReader::new(size, &log);
    for _ in 0..300 {
        let i = rng.below(size);
        let p = inclusion_proof(i, size, &tiles).unwrap();
        assert_eq!(p, inclusion_proof(i, size, &stored).unwrap());
        verify_inclusion(
            &leaf_hash(&i.to_le_bytes()),
            i,
            size,
            &p,
            roots.last().unwrap(),
        )
        .unwrap();
    }
    for _ in 0..300 {
        let a = rng.below(sizes.len() as u64) as usize;
        let b = rng.below(sizes.len() as u64) as usize;
        let (a, b) = (a.min(b), a.max(b));
        // Proofs between historical sizes, served from the current tiles.
        let p = consistency_proof(sizes[a], sizes[b], &tiles).unwrap();
        verify_consistency(sizes[a], sizes[b], &p, &roots[a], &roots[b]).unwrap();
        let reader = TileHashReader::new(sizes[b], &log);
        assert_eq!(tree_hash(sizes[b], &reader).unwrap(), roots[b]);
    }
    // The tile-backed reader refuses hashes beyond its tree size.
    let small = TileHashReader::new(10, &log);
    assert!(small.read_hashes(&[stored_hash_count(10)]).is_err());
}
