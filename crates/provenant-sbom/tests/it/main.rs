//! Integration tests: real inputs from this machine (its Python environment, dpkg database,
//! the workspace's Cargo.lock), images built here from those files, and the official
//! validators (CycloneDX 1.6 JSON schema, pyspdxtools) run from the test venv.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod fixtures;
mod image;
mod lockfiles;
mod peer;
mod python_env;
mod writers;
