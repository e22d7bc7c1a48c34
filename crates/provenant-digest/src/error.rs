use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = DigestError> = std::result::Result<T, E>;

/// Everything that can go wrong while hashing a model.
///
/// Paths named `path` are model-relative POSIX paths when they are inside the
/// model, otherwise the filesystem path as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Reading a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The model contains a symlink and symlinks are not allowed.
    #[error("{path}: is a symbolic link (symlinks are refused unless allowed)")]
    SymlinkRefused { path: String },
    /// A symlink points outside the model directory.
    #[error("{path}: symbolic link points outside the model directory (to {})", target.display())]
    SymlinkEscapes { path: String, target: PathBuf },
    /// Not a regular file, directory or symlink (socket, FIFO, device).
    #[error("{path}: not a regular file or directory")]
    UnsupportedFileType { path: String },
    /// A file name is not valid UTF-8 and cannot be named in a manifest.
    #[error("{}: file name is not valid UTF-8", path.display())]
    NonUtf8Path { path: PathBuf },
    /// A relative path (ignore path or resource name) is unsafe or malformed.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// A resource name could not be parsed.
    #[error("invalid resource name {name:?}: {reason}")]
    InvalidResourceName { name: String, reason: &'static str },
    /// Shard size must be positive.
    #[error("shard size must be at least 1 byte")]
    InvalidShardSize,
    /// A file shrank while it was being hashed.
    #[error("{path}: file changed while hashing (expected {expected} bytes, read {actual})")]
    FileChanged {
        path: String,
        expected: u64,
        actual: u64,
    },
    /// Unknown hash algorithm identifier.
    #[error("unknown hash algorithm {name:?} (expected sha256, blake2b or blake3)")]
    UnknownAlgorithm { name: String },
}
