//! Entry bundles and tile paths (C2SP tlog-tiles). The first three bytes
//! pick the bundle (width 1..=256, index); the rest is the bundle. What
//! parses holds exactly `width` entries, re-encodes to the same bytes and
//! verifies against the tile of its own leaf hashes. Tile paths that parse
//! round-trip through `path`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_tlog::{
    TileId, encode_entry_bundle, leaf_hash, parse_entry_bundle, verify_entry_bundle,
};

fuzz_target!(|data: &[u8]| {
    let Some((head, bundle)) = data.split_first_chunk::<3>() else {
        return;
    };
    let width = u16::from_be_bytes([head[0], head[1]]) % 256 + 1;
    let id = TileId::entries(u64::from(head[2]), width);
    if let Ok(entries) = parse_entry_bundle(&id, bundle) {
        assert_eq!(entries.len(), usize::from(width));
        let encoded = encode_entry_bundle(&entries).expect("parsed entries fit");
        assert_eq!(encoded, bundle);
        let tile: Vec<u8> = entries.iter().flat_map(|e| leaf_hash(e).0).collect();
        let verified = verify_entry_bundle(&id, bundle, &tile).expect("own leaf hashes");
        assert_eq!(verified, entries);
    }
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(t) = TileId::parse(path)
    {
        assert_eq!(TileId::parse(&t.path()).ok(), Some(t));
    }
});
