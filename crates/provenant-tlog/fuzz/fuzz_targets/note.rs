//! Signed notes (C2SP signed-note): parsing never panics; what parses
//! re-encodes to a note with the same text; what opens under the log's key
//! parsed first and keeps a verified signature.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use provenant_tlog::{Verifiers, open_note, parse_note, sign_note};
use provenant_tlog_fuzz::log_verifiers;

fuzz_target!(|data: &[u8]| {
    static KNOWN: OnceLock<Verifiers> = OnceLock::new();
    let known = KNOWN.get_or_init(log_verifiers);
    let opened = open_note(data, known);
    let Ok((text, sigs)) = parse_note(data) else {
        assert!(opened.is_err(), "opened a note that does not parse");
        return;
    };
    if let Ok(again) = sign_note(&text, &sigs, &[]) {
        let (text2, _) = parse_note(again.as_bytes()).expect("re-parse our own encoding");
        assert_eq!(text2, text);
    }
    if let Ok(note) = opened {
        assert_eq!(note.text, text);
        assert!(!note.sigs.is_empty(), "opened without a verified signature");
    }
});
