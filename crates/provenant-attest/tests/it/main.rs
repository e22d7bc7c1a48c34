#![allow(clippy::unwrap_used)] // test binary: panicking on setup failure is the point
//! Integration tests of provenant-attest: interop with PyPI `model-signing`
//! (both directions, key and certificate mode, files and shards), golden
//! bundles verified offline, and every tampering case of issue 3.

mod golden;
mod interop;
mod support;
mod tamper;
