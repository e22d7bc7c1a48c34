//! The layer reader (decompression, tar, whiteouts, symlinks, dpkg/apk/Python catalogers).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = provenant_sbom::fuzzing::layer(data);
});
