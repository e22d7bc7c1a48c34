//! Model hashing as the OpenSSF Model Signing (OMS) v1.0 specification defines it.
//!
//! A model (a directory, or a single file) becomes an ordered list of
//! *resources*: one per regular file (`files` serialization) or one per file
//! shard (`shards` serialization, resource name `path:start:end`), each with a
//! digest (`sha256`, `blake2b` or `blake3`). The *root digest* is SHA-256 over
//! the concatenated raw resource digests in canonical order; it is the in-toto
//! subject digest of an OMS signature.
//!
//! Byte-for-byte compatible with PyPI `model-signing` 1.1.x (resource names,
//! per-component path ordering, algorithm identifiers such as
//! `sha256-sharded-1000000000`, default ignore paths, empty files producing no
//! shard). Spec: <https://github.com/ossf/model-signing-spec>.
//!
//! Hashing streams files with large sequential reads, runs in parallel across
//! files and shards (largest first), and keeps memory bounded (one read buffer
//! per worker thread) whatever the model size.

mod algorithm;
mod content;
mod diff;
mod engine;
mod error;
mod manifest;
mod options;
mod path;
mod walk;

pub use algorithm::HashAlgorithm;
pub use content::{Digest, DigestAlgorithm, DigestParseError};
pub use diff::{ResourceMismatch, diff_resources};
pub use engine::{digest_path, hash_model};
pub use error::{DigestError, Result};
pub use manifest::{ModelDigest, Resource, ResourceName, Serialization, root_digest};
pub use options::{DEFAULT_SHARD_SIZE, GIT_IGNORE_PATHS, HashOptions};
pub use path::validate_relative_path;
pub use walk::{ModelFile, list_model_files};
