//! Store test suite: every metadata test runs against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod blobs;
mod lineage;
mod meta;
