//! Recipe capture: what a training run used, read from the machine it runs
//! on, as a [`provenant_provenance::Recipe`].
//!
//! - [`git_source`]: repository, commit, ref and dirty state of the training
//!   tree, and the commit's signature as `git verify-commit` checks it (SSH
//!   signatures against an allowed-signers file through `ssh-keygen -Y
//!   verify`, GPG signatures against the keyring).
//! - [`detect_ci`]: the CI run (GitHub Actions, GitLab CI, Buildkite,
//!   Jenkins) from its environment variables.
//! - [`environment_info`]: OS, CPU, GPUs (`nvidia-smi`), and the Python
//!   packages of an environment, catalogued by [`provenant_sbom`].
//! - [`capture`]: all of the above plus datasets, hyperparameters, seeds,
//!   image digest, parents and lock files, as `provenant capture` records them.
//!
//! This crate is apart from `provenant-provenance` on purpose: that one is
//! the pure spec crate (recipe and SLSA v1 types, the ML-training build
//! type, validation, reproducibility comparison) that the registry links
//! and fuzzers drive; it runs no process and reads no environment. Capture
//! does both, and only the CLI needs it.

mod capture;
mod ci;
mod environment;
mod error;
mod git;

pub use capture::{CaptureOptions, capture};
pub use ci::detect_ci;
pub use environment::environment_info;
pub use error::{CaptureError, Result};
pub use git::git_source;
