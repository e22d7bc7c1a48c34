//! Checkpoints (C2SP tlog-checkpoint): parsing never panics and round-trips
//! through `to_text`; opening under the log's key checks origin and text.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use provenant_tlog::{Checkpoint, Verifiers};
use provenant_tlog_fuzz::{ORIGIN, log_verifiers};

fuzz_target!(|data: &[u8]| {
    static KNOWN: OnceLock<Verifiers> = OnceLock::new();
    let known = KNOWN.get_or_init(log_verifiers);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(c) = Checkpoint::parse(text)
    {
        let again = Checkpoint::parse(&c.to_text()).expect("re-parse our own text");
        assert_eq!(again, c);
    }
    if let Ok((c, note)) = Checkpoint::open(data, Some(ORIGIN), known) {
        assert_eq!(c.origin, ORIGIN);
        assert_eq!(Checkpoint::parse(&note.text).ok(), Some(c));
    }
});
