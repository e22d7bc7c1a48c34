//! Integration tests for provenant-tlog: spec vectors, proofs against a naive
//! reference, Go note vectors, witness flows and tampering detection.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod merkle;
mod notes;
mod tamper;
mod witness;
