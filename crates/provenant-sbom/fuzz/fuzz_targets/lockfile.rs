//! Every lock/requirements parser on arbitrary text: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_sbom::{LockKind, parse_lock};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let kind = match selector % 6 {
        0 => LockKind::Requirements,
        1 => LockKind::UvLock,
        2 => LockKind::PoetryLock,
        3 => LockKind::PipfileLock,
        4 => LockKind::CargoLock,
        _ => LockKind::PackageLock,
    };
    let _ = parse_lock(kind, text, "fuzz");
});
