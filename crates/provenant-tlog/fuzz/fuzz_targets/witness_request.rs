//! Witness `add-checkpoint` requests (C2SP tlog-witness): parsing never
//! panics and round-trips through `to_body`; a fresh witness that trusts
//! the log's key handles any body without panicking, and what it cosigns
//! is one or more signature lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_tlog::AddCheckpointRequest;
use provenant_tlog_fuzz::{NOW, witness};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpointRequest::parse(data) {
        let again = AddCheckpointRequest::parse(&req.to_body()).expect("re-parse our own body");
        assert_eq!(again, req);
    }
    if let Ok(lines) = witness().add_checkpoint(data, NOW) {
        assert!(
            lines.ends_with('\n') && lines.starts_with('\u{2014}'),
            "{lines:?}"
        );
    }
});
