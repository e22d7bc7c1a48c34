//! Reading uploaded CycloneDX / SPDX documents.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = provenant_sbom::parse_sbom(data, "fuzz");
});
