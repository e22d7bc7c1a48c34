//! The crate's one error type.

use std::path::PathBuf;

use provenant_digest::Digest;

/// Everything that can go wrong while cataloging a source or reading an SBOM.
///
/// Every variant names the file (or archive) it is about; parse errors also carry the
/// 1-based line (0 when the format has no meaningful line, e.g. a binary header).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SbomError {
    /// Reading a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file's contents are not what its format requires.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file (for entries inside an image: `image!/path/in/image`).
        file: String,
        /// 1-based line, 0 when unknown or not applicable.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An archive entry name or link would escape the archive root or is otherwise unsafe.
    #[error("{archive}: unsafe entry {entry:?}: {reason}")]
    UnsafePath {
        /// The archive (image tarball, layer digest).
        archive: String,
        /// The entry name as stored.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Symbolic links inside an image refer to each other in a cycle (or nest too deep).
    #[error("{archive}: too many levels of symbolic links resolving {path:?}")]
    SymlinkLoop {
        /// The image.
        archive: String,
        /// The path being resolved.
        path: String,
    },
    /// A configured bound (decompressed size, entry count, file size, ...) was exceeded:
    /// treated as a hostile input (decompression bomb), not as a partial result.
    #[error("{archive}: {what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// The archive or file.
        archive: String,
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// Content does not match the digest that names it.
    #[error("{file}: digest mismatch: expected {expected}, computed {actual}")]
    DigestMismatch {
        /// The blob or layer.
        file: String,
        /// Digest from the manifest (or the config's diff id).
        expected: Box<Digest>,
        /// Digest of the bytes read.
        actual: Box<Digest>,
    },
    /// A recognised but unsupported variant of a format.
    #[error("{file}: unsupported: {what}")]
    Unsupported {
        /// The file.
        file: String,
        /// What is unsupported.
        what: String,
    },
    /// `sbom <path>` found nothing it knows how to catalog.
    #[error("{path}: no lock file, Python environment, OCI layout or image archive found")]
    NothingToCatalog {
        /// The path given.
        path: PathBuf,
    },
}

impl SbomError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Self::Parse {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = SbomError> = std::result::Result<T, E>;
