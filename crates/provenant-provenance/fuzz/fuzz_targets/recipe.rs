//! Untrusted recipe files: parsing and translation to SLSA never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = provenant_provenance::Recipe::from_json(data) {
        let _ = provenant_provenance::provenance_from_recipe(&r);
    }
});
