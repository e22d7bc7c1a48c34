//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `provenant-vuln`.
///
/// Problems with *one* OSV record during an import are not errors: they are
/// reported as [`crate::ImportIssue`]s and the record is skipped. These
/// variants are for failures that stop an operation as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VulnError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `.zip` export could not be opened or one of its entries not read.
    #[error("{path}: zip archive: {message}")]
    Zip { path: PathBuf, message: String },
    /// The import path is neither a directory, a `.zip`, nor a JSON/YAML file.
    #[error(
        "{path}: not an OSV source (expected a directory, a .zip export, or a .json/.yaml record)"
    )]
    UnsupportedSource { path: PathBuf },
    /// An OpenVEX document could not be read or is invalid.
    #[error("{source_name}: invalid OpenVEX document at {field}: {message}")]
    Vex {
        source_name: String,
        field: String,
        message: String,
    },
    /// A waivers file could not be read or one of its entries is invalid.
    #[error("{source_name}: invalid waiver {entry}: {message}")]
    Waiver {
        source_name: String,
        /// `#<index>` and, when known, the waiver's vulnerability id.
        entry: String,
        message: String,
    },
    /// Two waivers cover the same vulnerability and package pattern.
    #[error(
        "{source_name}: conflicting waivers #{first} and #{second} both cover {id} for {pattern}"
    )]
    ConflictingWaivers {
        source_name: String,
        first: usize,
        second: usize,
        id: String,
        pattern: String,
    },
    /// Rendering a report failed (serialisation).
    #[error("rendering the report failed: {message}")]
    Render { message: String },
}

impl VulnError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VulnError::Io {
            path: path.into(),
            source,
        }
    }
}
