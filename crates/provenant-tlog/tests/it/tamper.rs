//! Tampering with each stored piece is detected, with an error naming what
//! and where.

use provenant_tlog::{
    Checkpoint, Ed25519Signer, Error, MemoryLog, TileHashReader, TileId, TileKind, TileReader,
    Verifiers, consistency_proof, inclusion_proof, leaf_hash, tree_hash, verify_consistency,
    verify_entry_bundle, verify_inclusion,
};

fn log_of(n: u64) -> MemoryLog {
    let mut log = MemoryLog::new();
    let entries: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("{{\"i\":{i}}}").into_bytes())
        .collect();
    for chunk in entries.chunks(1000) {
        log.append(chunk).unwrap();
    }
    log
}

#[test]
fn proof_for_the_wrong_size_or_index() {
    let log = log_of(1000);
    let root = log.root().unwrap();
    let reader = log.hash_reader();
    let leaf = leaf_hash(b"{\"i\":17}");
    let proof = inclusion_proof(17, 1000, &reader).unwrap();
    verify_inclusion(&leaf, 17, 1000, &proof, &root).unwrap();
    // A proof made for size 999, checked against the checkpoint of size 1000.
    let stale = inclusion_proof(17, 999, &reader).unwrap();
    let err = verify_inclusion(&leaf, 17, 1000, &stale, &root).unwrap_err();
    assert!(
        err.to_string().contains("leaf 17 in tree size 1000"),
        "{err}"
    );
    let err = verify_inclusion(&leaf, 17, 1 << 20, &proof, &root).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ProofLength {
                expected: 20,
                got: 10,
                ..
            }
        ),
        "{err}"
    );
    let err = verify_inclusion(&leaf, 1000, 1000, &proof, &root).unwrap_err();
    assert!(
        matches!(
            err,
            Error::IndexOutOfRange {
                index: 1000,
                size: 1000,
                ..
            }
        ),
        "{err}"
    );
    assert!(inclusion_proof(1000, 1000, &reader).is_err());
    let old_root = tree_hash(300, &reader).unwrap();
    let c = consistency_proof(300, 1000, &reader).unwrap();
    verify_consistency(300, 1000, &c, &old_root, &root).unwrap();
    let err = verify_consistency(300, 1000, &c, &root, &root).unwrap_err();
    assert!(
        err.to_string().contains("from tree size 300 to 1000"),
        "{err}"
    );
    assert!(matches!(
        verify_consistency(1000, 300, &c, &root, &old_root),
        Err(Error::SizeOrder {
            old_size: 1000,
            new_size: 300
        })
    ));
    // A shrunk log: proof from 1000 to 300 cannot be produced.
    assert!(consistency_proof(1000, 300, &reader).is_err());
}

#[test]
fn tile_of_the_wrong_length() {
    let mut log = log_of(1000);
    log.object_mut(TileKind::Hashes(0), 1)
        .unwrap()
        .truncate(8191);
    let reader = TileHashReader::new(1000, &log);
    let err = inclusion_proof(300, 1000, &reader).unwrap_err();
    assert!(
        matches!(&err, Error::TileLength { tile, expected: 8192, got: 8191 } if tile == "tile/0/001"),
        "{err}"
    );
}

#[test]
fn modified_tile_hash_breaks_proofs_and_is_found_by_a_rebuild() {
    let mut log = log_of(1000);
    let root = log.root().unwrap();
    // Corrupt leaf hash 512 (first hash of level-0 tile 2).
    log.object_mut(TileKind::Hashes(0), 2).unwrap()[5] ^= 1;
    let reader = TileHashReader::new(1000, &log);
    // A leaf whose proof reads the modified tile no longer verifies.
    let leaf = leaf_hash(b"{\"i\":600}");
    let proof = inclusion_proof(600, 1000, &reader).unwrap();
    let err = verify_inclusion(&leaf, 600, 1000, &proof, &root).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InclusionProof {
                index: 600,
                size: 1000,
                ..
            }
        ),
        "{err}"
    );
    // An audit rebuilds the tree from the entry bundles and compares every tile.
    let mut rebuilt = MemoryLog::new();
    for bundle in 0..4u64 {
        let id = provenant_tlog::entry_bundle_for(bundle * 256, 1000).unwrap();
        let data = log.read_tiles(&[id]).unwrap()[0].to_vec();
        let entries = provenant_tlog::parse_entry_bundle(&id, &data).unwrap();
        rebuilt.append(&entries).unwrap();
    }
    assert_eq!(rebuilt.root().unwrap(), root);
    let bad: Vec<String> = provenant_tlog::tiles_for_size(1000)
        .into_iter()
        .filter(|id| log.read_tiles(&[*id]).unwrap()[0] != rebuilt.read_tiles(&[*id]).unwrap()[0])
        .map(|id| id.path())
        .collect();
    assert_eq!(bad, vec!["tile/0/002"]);
}

#[test]
fn modified_entry_bundle() {
    let mut log = log_of(1000);
    let id = TileId::entries(1, 256);
    let tile_id = TileId::hashes(0, 1, 256);
    let bundle = log.read_tiles(&[id]).unwrap()[0].to_vec();
    let tile = log.read_tiles(&[tile_id]).unwrap()[0].to_vec();
    assert_eq!(verify_entry_bundle(&id, &bundle, &tile).unwrap().len(), 256);
    // Change one byte of entry 260 (the 5th entry of bundle 1).
    let mut tampered = bundle.clone();
    let mut off = 0;
    for _ in 0..4 {
        off += 2 + usize::from(u16::from_be_bytes([tampered[off], tampered[off + 1]]));
    }
    tampered[off + 3] ^= 0x20;
    let err = verify_entry_bundle(&id, &tampered, &tile).unwrap_err();
    assert!(
        matches!(&err, Error::EntryMismatch { index: 260, bundle, tile } if bundle == "tile/entries/001" && tile == "tile/0/001"),
        "{err}"
    );
    // A truncated bundle names its offset.
    let err = verify_entry_bundle(&id, &bundle[..bundle.len() - 3], &tile).unwrap_err();
    assert!(matches!(err, Error::EntryBundle { .. }), "{err}");
    // An inflated length prefix.
    let mut inflated = bundle.clone();
    inflated[0] = 0xff;
    let err = verify_entry_bundle(&id, &inflated, &tile).unwrap_err();
    assert!(matches!(err, Error::EntryBundle { offset: 0, .. }), "{err}");
    // Storing the tampered bundle: the next integration notices nothing (it
    // trusts storage) but an audit recomputing from bundles does.
    *log.object_mut(TileKind::Entries, 1).unwrap() = tampered;
    let bundle = log.read_tiles(&[id]).unwrap()[0].to_vec();
    assert!(verify_entry_bundle(&id, &bundle, &tile).is_err());
}

#[test]
fn forged_or_wrong_checkpoint_signature() {
    let log = log_of(10);
    let signer = Ed25519Signer::generate("log.example").unwrap();
    let c = Checkpoint::new("log.example", 10, log.root().unwrap());
    let note = c.sign(&[&signer]).unwrap();
    let verifiers: Verifiers = [signer.verifier()].into_iter().collect();
    Checkpoint::open(note.as_bytes(), Some("log.example"), &verifiers).unwrap();
    // Change the size in the text: the signature no longer verifies.
    let forged = note.replacen("\n10\n", "\n11\n", 1);
    let err = Checkpoint::open(forged.as_bytes(), None, &verifiers).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSignature { name, line: 5, .. } if name == "log.example"),
        "{err}"
    );
    // Another key with the same name is simply unknown.
    let other = Ed25519Signer::generate("log.example").unwrap();
    let by_other = c.sign(&[&other]).unwrap();
    assert!(matches!(
        Checkpoint::open(by_other.as_bytes(), None, &verifiers),
        Err(Error::UnverifiedNote { unverified: 1 })
    ));
}
