use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::algorithm::HashAlgorithm;
use crate::manifest::Serialization;

/// Default shard size of `model_signing` shard serialization (10^9 bytes).
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// Top-level paths ignored by default (`model_signing` `ignore_git_paths`).
pub const GIT_IGNORE_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// How to hash a model.
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// Digest of each resource.
    pub algorithm: HashAlgorithm,
    /// One resource per file, or per shard.
    pub serialization: Serialization,
    /// Model-relative POSIX paths to leave out (a directory covers its subtree).
    pub ignore_paths: Vec<String>,
    /// Ignore `.git`, `.gitattributes`, `.github`, `.gitignore` at top level.
    pub ignore_git_paths: bool,
    /// Hash symlinks (to regular files inside the model) instead of refusing them.
    /// Links pointing out of the model are refused either way.
    pub allow_symlinks: bool,
    /// Hash only these model-relative files (verification with
    /// ignore-unsigned-files); files listed but absent are simply not hashed.
    pub only_files: Option<Vec<String>>,
    /// Worker threads (default: available parallelism).
    pub threads: Option<usize>,
    /// Incremented with the number of bytes hashed, for progress display.
    pub progress: Option<Arc<AtomicU64>>,
    /// Size of each read (default 1 MiB).
    pub read_size: usize,
}

impl Default for HashOptions {
    fn default() -> Self {
        Self {
            algorithm: HashAlgorithm::Sha256,
            serialization: Serialization::Files,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
            allow_symlinks: false,
            only_files: None,
            threads: None,
            progress: None,
            read_size: 1 << 20,
        }
    }
}

impl HashOptions {
    /// The ignore paths recorded in the manifest: git paths (if enabled) and
    /// the user's paths, sorted and deduplicated.
    pub fn effective_ignore_paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ignore_paths.clone();
        if self.ignore_git_paths {
            v.extend(GIT_IGNORE_PATHS.iter().map(|s| (*s).to_owned()));
        }
        v.sort();
        v.dedup();
        v
    }
}
