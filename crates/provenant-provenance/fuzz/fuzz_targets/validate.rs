//! Untrusted SLSA predicates: validation never panics, and whatever it
//! accepts feeds the reproducibility comparison without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(predicate) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let req = provenant_provenance::Requirements::default();
    let _ = provenant_provenance::validate(provenant_provenance::PREDICATE_TYPE, &predicate, req);
    let empty = Default::default();
    let _ = provenant_provenance::diff(&predicate, &predicate, &empty, &empty);
});
