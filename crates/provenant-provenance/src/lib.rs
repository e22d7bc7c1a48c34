//! Training provenance for ML models: what a training run used, as SLSA
//! Provenance v1 with Provenant's ML-training build type, and what follows
//! from it (validation on ingestion, lineage inputs, reproducibility).
//!
//! - Dataset descriptors: a dataset (directory or file) hashed with the OMS
//!   engine of [`provenant_digest`] (file mode, SHA-256); its root digest is
//!   the dataset's digest.
//! - The [`Recipe`]: what a training run used — source repository and
//!   commit (with its signature status), datasets, hyperparameters, seeds,
//!   container image, Python packages, OS/CPU/GPU, CI run identity.
//!   Capturing one (running git, gpg, ssh-keygen, nvidia-smi, reading CI
//!   variables) is the job of the `provenant-capture` crate: this one runs
//!   no process and reads no environment, so the registry links it and
//!   fuzzers drive it alone.
//! - SLSA Provenance v1 predicate types (<https://slsa.dev/spec/v1.0/provenance>)
//!   inside in-toto Statement v1 (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>),
//!   the build type [`BUILD_TYPE`] and its JSON Schema [`BUILD_TYPE_SCHEMA`].
//! - [`validate`]: schema plus required inputs, errors naming the field.
//! - [`diff`] and [`check_files`]: field-by-field recipe comparison.

mod dataset;
mod error;
mod recipe;
mod reproduce;
mod slsa;
mod validate;

pub use dataset::{DatasetDescriptor, hash_dataset, parse_dataset_ref};
pub use error::{ProvenanceError, Result};
pub use recipe::{
    CiIdentity, CommitSignature, DatasetRef, Environment, Package, ParentRef, RECIPE_TYPE, Recipe,
    Source,
};
pub use reproduce::{
    Category, Comparison, FieldDiff, FileDiff, Verdict, check_files, diff, recipe_fields,
};
pub use slsa::{
    BUILD_TYPE, BuildDefinition, BuildMetadata, Builder, LOCAL_BUILDER, PREDICATE_TYPE, Provenance,
    ResourceDescriptor, RunDetails, provenance_from_recipe,
};
pub use validate::{BUILD_TYPE_SCHEMA, Inputs, Requirements, parse_digest, valid_commit, validate};
