//! Integration tests: one binary (see STYLE.md), modules by topic.

// Test code: helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod common;
mod import;
mod interop;
mod matching;
mod matching_helpers;
mod scanning;
