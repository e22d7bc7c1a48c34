//! in-toto statement / OMS predicate parser: no panics; accepted resource
//! names are never absolute and never contain `..`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_attest::parse_statement;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_statement(data) {
        for r in &m.resources {
            let p = r.name.path();
            assert!(!p.starts_with('/'));
            assert!(!p.split('/').any(|c| c == ".."));
        }
    }
});
