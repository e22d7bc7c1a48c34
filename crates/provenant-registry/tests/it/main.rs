//! Registry test suite: the transparency log over the real stores, on SQLite
//! and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod log;
