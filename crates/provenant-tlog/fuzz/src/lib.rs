//! Fixed keys and inputs shared by the fuzz targets and the seed writer
//! (`examples/seeds.rs`): the seeds are signed by these keys, so a seed
//! passes signature checks and the fuzzer starts past them.

use provenant_tlog::{
    Checkpoint, CosignatureSigner, Ed25519Signer, MemoryWitnessStore, SigningKey, Verifiers,
    Witness, leaf_hash,
};

/// The log's origin (and key name).
pub const ORIGIN: &str = "fuzz.example/log";
/// The witness's key name.
pub const WITNESS: &str = "fuzz.example/witness";
/// The time the witness cosigns at (Unix seconds).
pub const NOW: u64 = 1_700_000_000;

/// The log's note signer, from a fixed seed.
pub fn log_signer() -> Ed25519Signer {
    // ORIGIN is a constant valid key name (no spaces, `+` or newlines).
    Ed25519Signer::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).expect("valid key name")
}

/// Verifiers that know the log's key.
pub fn log_verifiers() -> Verifiers {
    let mut v = Verifiers::new();
    v.push(log_signer().verifier());
    v
}

/// A fresh witness (empty state) that watches the log.
pub fn witness() -> Witness<MemoryWitnessStore> {
    // WITNESS is a constant valid key name.
    let signer =
        CosignatureSigner::new(WITNESS, SigningKey::from_bytes(&[2; 32])).expect("valid key name");
    let mut w = Witness::new(signer, MemoryWitnessStore::default());
    w.add_log(ORIGIN, Box::new(log_signer().verifier()));
    w
}

/// The log's signed checkpoint of a tree of `entries` (leaves hashed in
/// order; a tree of one or two leaves is all the seeds need).
pub fn signed_checkpoint(entries: &[&[u8]]) -> String {
    let root = match entries {
        [one] => leaf_hash(one),
        [a, b] => provenant_tlog::node_hash(&leaf_hash(a), &leaf_hash(b)),
        _ => provenant_tlog::empty_root(),
    };
    let signer = log_signer();
    // One valid signer whose name is the checkpoint's origin: signing cannot fail.
    Checkpoint::new(ORIGIN, entries.len() as u64, root)
        .sign(&[&signer])
        .expect("the fixed key signs")
}
