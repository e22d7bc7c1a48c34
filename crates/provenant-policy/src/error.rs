//! The crate's one error type.

use std::path::PathBuf;

/// What went wrong loading, compiling or evaluating a policy set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A policy directory, module or data file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A path under the policy directory is not UTF-8, or is not under it.
    #[error("{}: {reason}", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A module failed to parse or compile at a known place.
    #[error("{path}:{line}:{column}: {message}")]
    Compile {
        /// The module's path relative to the policy directory.
        path: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The compiler's message, without the location and the source excerpt.
        message: String,
    },
    /// A module or the set failed to compile, and the compiler named no place.
    #[error("{path}: {message}")]
    Module {
        /// The module (or `<policy set>`).
        path: String,
        /// The compiler's message.
        message: String,
    },
    /// A data file is not valid JSON or YAML, or is not an object.
    #[error("data file {file}: {reason}")]
    Data {
        /// The data file as given.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two data files set the same path to different values.
    #[error("data files {first} and {second} both set {pointer} (to different values)")]
    DataConflict {
        /// JSON pointer of the conflicting value in `data`.
        pointer: String,
        /// The file that set it first.
        first: String,
        /// The file that set it again.
        second: String,
    },
    /// A policy's `mode` rule is not one of the three modes.
    #[error("package {package}: mode must be \"enforce\", \"warn\" or \"dry-run\", not {value}")]
    InvalidMode {
        /// The package, e.g. `provenant.signed`.
        package: String,
        /// The value the rule produced (JSON).
        value: String,
    },
    /// A `--policy-mode PKG=MODE` override is malformed or names no policy of the set.
    #[error("mode override {text:?}: {reason}")]
    ModeOverride {
        /// The override as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Evaluation failed (runtime error or time limit).
    #[error("evaluating {policy}: {message}")]
    Evaluation {
        /// The package being evaluated, or `provenant` for the whole set.
        policy: String,
        /// What went wrong.
        message: String,
        /// The time limit was exceeded.
        timeout: bool,
    },
    /// A value has no canonical JSON form (a number that is not an exact double).
    #[error("canonical JSON of {what}: {reason}")]
    Canonical {
        /// `input` or `data`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The input document does not match the input schema.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The policy signature cannot be read, is malformed, or does not
    /// verify against the trusted key or roots (wrong key, bad signature,
    /// rejected certificate chain).
    #[error("policy signature {}: {source}", bundle.display())]
    Signature {
        /// The signature bundle.
        bundle: PathBuf,
        /// Why it was refused.
        #[source]
        source: provenant_attest::AttestError,
    },
    /// The policy signature verifies, but its manifest does not give one
    /// SHA-256 per whole file.
    #[error("policy signature {}: {reason}", bundle.display())]
    SignedManifest {
        /// The signature bundle.
        bundle: PathBuf,
        /// What the manifest holds instead.
        reason: String,
    },
    /// A module or data file the set loads is not listed in the policy
    /// signature.
    #[error("{file} is not signed: the policy signature {} does not list it (re-sign the policy directory)", bundle.display())]
    Unsigned {
        /// The file, relative to the policy directory.
        file: String,
        /// The signature bundle.
        bundle: PathBuf,
    },
    /// A module or data file differs from what the policy signature lists.
    #[error("{file} does not match the policy signature {}: signed sha256 {signed}, read sha256 {actual}", bundle.display())]
    SignedDigestMismatch {
        /// The file, relative to the policy directory.
        file: String,
        /// The signature bundle.
        bundle: PathBuf,
        /// The SHA-256 (hex) the signature lists.
        signed: String,
        /// The SHA-256 (hex) of the bytes read.
        actual: String,
    },
    /// A data file lies outside the signed policy directory, so no
    /// signature can vouch for it.
    #[error("data file {} is outside the signed policy directory {}: when a policy signature is required, data files must lie inside the signed directory", file.display(), dir.display())]
    DataOutsideSignedDir {
        /// The data file as given.
        file: PathBuf,
        /// The policy directory.
        dir: PathBuf,
    },
}

/// The input document does not match `policy-input.v1.schema.json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input{}: {message}", if pointer.is_empty() { String::new() } else { format!(" at {pointer}") })]
#[non_exhaustive]
pub struct InputError {
    /// JSON pointer of the first fault (`""` for the document itself).
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

impl PolicyError {
    /// Turns a regorus error (`--> file:line:col`, a source excerpt, then
    /// `error: msg`) into [`PolicyError::Compile`], or into
    /// [`PolicyError::Module`] naming `fallback` when it carries no location.
    pub(crate) fn from_engine(fallback: &str, err: &impl std::fmt::Display) -> Self {
        let text = err.to_string();
        match parse_location(&text) {
            Some((path, line, column, message)) => Self::Compile {
                path,
                line,
                column,
                message,
            },
            None => Self::Module {
                path: fallback.to_owned(),
                message: text.trim().to_owned(),
            },
        }
    }
}

/// The location and message of a regorus diagnostic:
/// `"\n--> a.rego:4:3\n  |\n4 | x == 1\n  | ^\nerror: message"`.
pub(crate) fn parse_location(text: &str) -> Option<(String, u32, u32, String)> {
    let location = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))?;
    // The path may hold colons: line and column are the last two fields.
    let mut fields = location.rsplitn(3, ':');
    let column = fields.next()?.trim().parse().ok()?;
    let line = fields.next()?.trim().parse().ok()?;
    let path = fields.next()?.to_owned();
    // The message follows the excerpt: the text after the first line that
    // starts with `error: ` (it may span several lines).
    let message = match text.find("\nerror: ") {
        Some(at) => text[at + "\nerror: ".len()..].trim().to_owned(),
        None => text.trim().to_owned(),
    };
    Some((path, line, column, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_parsed_from_a_regorus_diagnostic() {
        let text = "\n--> dir/b:x.rego:4:3\n  |\n4 |   x == 1\n  |   ^\nerror: use of undefined variable `x` is unsafe";
        let (path, line, column, message) = parse_location(text).unwrap();
        assert_eq!(path, "dir/b:x.rego");
        assert_eq!((line, column), (4, 3));
        assert_eq!(message, "use of undefined variable `x` is unsafe");
        assert!(parse_location("no location here").is_none());
    }
}
