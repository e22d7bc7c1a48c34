use std::cmp::Ordering;
use std::fmt;

use sha2::Digest as _;

use crate::algorithm::HashAlgorithm;
use crate::error::{DigestError, Result};
use crate::path::{cmp_paths, validate_relative_path};

/// How a model is cut into resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Serialization {
    /// One resource per regular file (`"method": "files"`).
    #[default]
    Files,
    /// One resource per shard of at most `shard_size` bytes (`"method": "shards"`).
    /// Empty files have no shard.
    Shards { shard_size: u64 },
}

impl Serialization {
    /// The `method` value of the OMS `serialization` object.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Files => "files",
            Self::Shards { .. } => "shards",
        }
    }

    /// The per-resource `algorithm` identifier: `sha256` for files,
    /// `sha256-sharded-1000000000` for shards.
    pub fn resource_algorithm(&self, algorithm: HashAlgorithm) -> String {
        match self {
            Self::Files => algorithm.name().to_owned(),
            Self::Shards { shard_size } => format!("{}-sharded-{shard_size}", algorithm.name()),
        }
    }
}

/// The identifier of a resource: a model-relative file path, or a shard of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceName {
    /// A whole file. A single-file model has the one resource `.`.
    File(String),
    /// Bytes `start..end` of a file, written `path:start:end`.
    Shard { path: String, start: u64, end: u64 },
}

impl ResourceName {
    /// Parses a resource name read from a manifest, refusing unsafe paths
    /// (absolute, `..`, empty components).
    pub fn parse(name: &str, serialization: &Serialization) -> Result<Self> {
        let check_path = |p: &str| -> Result<()> {
            if p == "." {
                return Ok(());
            }
            validate_relative_path(p)
        };
        match serialization {
            Serialization::Files => {
                check_path(name)?;
                Ok(Self::File(name.to_owned()))
            }
            Serialization::Shards { .. } => {
                let bad = |reason| DigestError::InvalidResourceName {
                    name: name.to_owned(),
                    reason,
                };
                let mut it = name.rsplitn(3, ':');
                let (Some(end), Some(start), Some(path)) = (it.next(), it.next(), it.next()) else {
                    return Err(bad("expected `path:start:end`"));
                };
                let start: u64 = start
                    .parse()
                    .map_err(|_| bad("start offset is not a number"))?;
                let end: u64 = end.parse().map_err(|_| bad("end offset is not a number"))?;
                if end <= start {
                    return Err(bad("end offset must be greater than start offset"));
                }
                check_path(path)?;
                Ok(Self::Shard {
                    path: path.to_owned(),
                    start,
                    end,
                })
            }
        }
    }

    /// The model-relative file path this resource covers.
    pub fn path(&self) -> &str {
        match self {
            Self::File(p) => p,
            Self::Shard { path, .. } => path,
        }
    }

    /// The byte range, for shards.
    pub fn range(&self) -> Option<(u64, u64)> {
        match self {
            Self::File(_) => None,
            Self::Shard { start, end, .. } => Some((*start, *end)),
        }
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => f.write_str(p),
            Self::Shard { path, start, end } => write!(f, "{path}:{start}:{end}"),
        }
    }
}

impl Ord for ResourceName {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_paths(self.path(), other.path()).then_with(|| self.range().cmp(&other.range()))
    }
}

impl PartialOrd for ResourceName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One hashed resource of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// What was hashed.
    pub name: ResourceName,
    /// Algorithm identifier as written in the manifest (`sha256`, `sha256-sharded-N`, ...).
    pub algorithm: String,
    /// Raw digest bytes.
    pub digest: Vec<u8>,
}

impl Resource {
    /// Lowercase hex of the digest, as in the manifest.
    pub fn digest_hex(&self) -> String {
        to_hex(&self.digest)
    }
}

/// The OMS view of a hashed model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDigest {
    /// Informative name (final component of the model path).
    pub model_name: String,
    /// Digest applied to every resource.
    pub algorithm: HashAlgorithm,
    /// Files or shards.
    pub serialization: Serialization,
    /// Whether symlinks were hashed.
    pub allow_symlinks: bool,
    /// Ignore paths recorded in the manifest (sorted).
    pub ignore_paths: Vec<String>,
    /// Resources in canonical order.
    pub resources: Vec<Resource>,
    /// SHA-256 over the concatenated raw resource digests.
    pub root_digest: [u8; 32],
}

impl ModelDigest {
    /// Lowercase hex of the root digest.
    pub fn root_digest_hex(&self) -> String {
        to_hex(&self.root_digest)
    }
}

/// The OMS root digest: SHA-256 of the raw resource digests, in the given order.
pub fn root_digest(resources: &[Resource]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for r in resources {
        h.update(&r.digest);
    }
    h.finalize().into()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names() {
        let s = Serialization::Shards { shard_size: 10 };
        let n = ResourceName::parse("a/b:c:0:10", &s).unwrap();
        assert_eq!(
            n,
            ResourceName::Shard {
                path: "a/b:c".into(),
                start: 0,
                end: 10
            }
        );
        assert_eq!(n.to_string(), "a/b:c:0:10");
        for bad in ["a", "a:1", "a:x:2", "a:5:5", "../a:0:1", "/a:0:1", ":0:1"] {
            assert!(ResourceName::parse(bad, &s).is_err(), "{bad}");
        }
        assert_eq!(
            s.resource_algorithm(HashAlgorithm::Sha256),
            "sha256-sharded-10"
        );
    }

    #[test]
    fn shard_order_is_numeric_within_a_path() {
        let s = Serialization::Shards { shard_size: 10 };
        let mut v: Vec<_> = ["a:10:20", "a:0:10", "a/b:0:1", "a-c:0:1", "a:100:105"]
            .iter()
            .map(|n| ResourceName::parse(n, &s).unwrap())
            .collect();
        v.sort();
        let names: Vec<_> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            ["a:0:10", "a:10:20", "a:100:105", "a/b:0:1", "a-c:0:1"]
        );
    }

    #[test]
    fn single_file_and_unsafe_names() {
        assert!(ResourceName::parse(".", &Serialization::Files).is_ok());
        assert!(ResourceName::parse("../etc/passwd", &Serialization::Files).is_err());
        assert!(ResourceName::parse("/etc/passwd", &Serialization::Files).is_err());
    }
}
