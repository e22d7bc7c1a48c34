//! The Provenant transparency log engine — pure code, no HTTP and no SQL.
//!
//! - RFC 6962 Merkle tree hashing (<https://www.rfc-editor.org/rfc/rfc6962>) with
//!   stored-hash addressing compatible with Go's `golang.org/x/mod/sumdb/tlog`;
//! - inclusion and consistency proofs, generated from a [`HashReader`] and
//!   verified per RFC 9162 (<https://www.rfc-editor.org/rfc/rfc9162>);
//! - C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile and entry-bundle
//!   paths, widths, entry bundles, a [`TileHashReader`] over a [`TileReader`];
//! - batched integration ([`integrate`]): the pure part of a sequencer;
//! - C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys,
//!   byte-compatible with Go's `golang.org/x/mod/sumdb/note`;
//! - checkpoints (<https://c2sp.org/tlog-checkpoint>), witness cosignatures
//!   (<https://c2sp.org/tlog-cosignature>) and the witness's `add-checkpoint`
//!   logic (<https://c2sp.org/tlog-witness>);
//! - RFC 8785 canonical JSON (<https://www.rfc-editor.org/rfc/rfc8785>) for
//!   log entries.
//!
//! Storage (object store for tiles, database for sequencing and witness
//! state) plugs in through [`HashReader`], [`TileReader`] and [`WitnessStore`].

mod checkpoint;
mod cosignature;
mod error;
mod hash;
mod integrate;
mod jcs;
mod note;
mod proof;
mod tile;
mod tree;
mod witness;

pub use checkpoint::Checkpoint;
pub use cosignature::{CosignatureSigner, CosignatureVerifier, cosigned_message, unix_now};
pub use error::{BoxError, Error};
pub use hash::{HASH_SIZE, Hash, empty_root, leaf_hash, node_hash};
pub use integrate::{Integration, MAX_TREE_SIZE, MemoryLog, integrate};
pub use jcs::{canonicalize, canonicalize_str, to_canonical_json};
pub use note::{
    ALG_COSIGNATURE_V1, ALG_ED25519, Ed25519Signer, Ed25519Verifier, MAX_NOTE_SIGNATURES, Note,
    NoteSignature, NoteSigner, NoteVerifier, Verifiers, generate_key, is_valid_key_name, key_id,
    open_note, parse_note, parse_verifier_key, sign_note,
};
pub use proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use tile::{
    MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, TileHashReader, TileId, TileKind, TileReader,
    encode_entry_bundle, entry_bundle_for, parse_entry_bundle, tile_width, tiles_for_size,
    verify_entry_bundle,
};
pub use tree::{
    HashReader, split_stored_hash_index, stored_hash_count, stored_hash_index, tree_hash,
};
pub use witness::{
    AddCheckpointRequest, MAX_PROOF_LINES, MemoryWitnessStore, SwapOutcome, TreeHead, Witness,
    WitnessStore,
};

/// Re-exported so callers can build keys without naming the dependency.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
