//! Writes the seed corpus, `seeds/<target>/`, from the fixed keys in
//! `src/lib.rs`: one or two small valid inputs per target.
//! `cargo run --example seeds` from `crates/provenant-tlog/fuzz`.

use std::path::Path;

use provenant_tlog::{AddCheckpointRequest, TileId, encode_entry_bundle};
use provenant_tlog_fuzz::{NOW, signed_checkpoint, witness};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(name), bytes)
    };
    let one: &[&[u8]] = &[b"{\"n\":0}"];
    let two: &[&[u8]] = &[b"{\"n\":0}", b"{\"n\":1}"];
    let note1 = signed_checkpoint(one);
    let note2 = signed_checkpoint(two);

    write("note", "checkpoint-1", note1.as_bytes())?;
    write("checkpoint", "signed-1", note1.as_bytes())?;
    write("checkpoint", "signed-2", note2.as_bytes())?;

    // Width 2 (bytes 0x00 0x01 → 1 % 256 + 1), index 0, then the bundle.
    let mut bundle = vec![0, 1, 0];
    bundle.extend(encode_entry_bundle(two).expect("small entries"));
    write("entry_bundle", "two-entries", &bundle)?;
    write(
        "entry_bundle",
        "tile-path",
        TileId::hashes(1, 1234, 7).path().as_bytes(),
    )?;

    // A first checkpoint (old 0, no proof), which a fresh witness cosigns.
    let first = AddCheckpointRequest {
        old_size: 0,
        proof: vec![],
        checkpoint: note2.clone().into_bytes(),
    }
    .to_body();
    let cosigned = witness().add_checkpoint(&first, NOW);
    assert!(cosigned.is_ok(), "the seed must be accepted: {cosigned:?}");
    write("witness_request", "first", &first)?;
    Ok(())
}
