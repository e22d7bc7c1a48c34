//! HTTP API tests against a real server on loopback, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod api;
mod attest;
mod budgets;
mod harness;
mod trust;
