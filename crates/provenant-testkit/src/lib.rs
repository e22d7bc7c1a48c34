//! Test support for Provenant's test suites — a dev-dependency only, never
//! linked into the `provenant` binary.
//!
//! - [`skip`]: the one way a test says it cannot run here. It prints
//!   `SKIPPED <test> [<crate>]: <reason>` to the process's stderr (past
//!   libtest's capture, so the line shows for a passing test) and appends it
//!   to the file named by `PROVENANT_SKIP_LOG`, which `.ci/run` counts. With
//!   `CI` set a missing prerequisite is a failure: [`skip`] panics instead.
//! - [`python_venv`] and [`require_program`]: the peers interop tests run.
//! - [`SmallDisk`]: a tmpfs of a few MiB, for tests of a full disk.
//! - With the `db` feature: [`PgTestDb`] (a fresh PostgreSQL database per
//!   test), [`execute`] (SQL behind a server's back), and the
//!   both-backends tests: [`both!`] runs one body on SQLite and on
//!   PostgreSQL, over any [`Fixture`] (a bare [`provenant_store::Store`]
//!   here, a running server in the server's tests, a [`ServeDatabase`] for
//!   tests of the `provenant` binary with `both!(sync …)`).

#[cfg(feature = "db")]
mod db;
mod skip;
mod small_disk;

#[cfg(feature = "db")]
pub use db::{
    Backend, Fixture, PgTestDb, ServeDatabase, execute, run_on, run_opened_on, run_sync_on,
};
pub use skip::{python_venv, require_program, skip};
pub use small_disk::SmallDisk;
