//! HTTP API tests against a real server on loopback, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod api;
mod attest;
mod budgets;
mod errors;
mod harness;
mod permissions;
mod policy;
mod trust;

/// Every case on SQLite and PostgreSQL, over a [`harness::TestServer`].
pub use provenant_testkit::both;
