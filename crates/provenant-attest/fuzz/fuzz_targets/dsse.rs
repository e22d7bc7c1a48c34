//! DSSE envelope parser (standard and URL-safe base64): no panics, stable round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_attest::{Envelope, pae};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::from_json(data) {
        let again = Envelope::from_json(e.to_json().as_bytes()).expect("re-parse own output");
        assert_eq!(again, e);
        let _ = pae(&e.payload_type, &e.payload);
    }
});
