//! Dataset descriptors: a dataset hashed like a model (OMS, file mode, SHA-256).

use std::path::Path;

use provenant_digest::{Digest, HashOptions, hash_model};
use serde::{Deserialize, Serialize};

use crate::error::{ProvenanceError, Result};
use crate::validate::parse_digest;

/// What `provenant dataset hash` prints and what a recipe records per dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetDescriptor {
    /// Informative name (last path component, or the URI).
    pub name: String,
    /// Where the dataset lives (`file:///abs/path` for a local path, else the given URI).
    pub uri: String,
    /// `sha256:<hex>`: the OMS root digest over the dataset's files.
    pub digest: Digest,
    /// How the digest was computed.
    pub digest_method: String,
    /// Number of files (absent for a reference given by digest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Total bytes (absent for a reference given by digest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The digest method recorded in descriptors.
pub const DIGEST_METHOD: &str = "oms-v1.0/files/sha256";

/// Hashes a dataset directory or file with the OMS engine.
///
/// # Errors
/// Unreadable files or symlinks escaping the dataset.
pub fn hash_dataset(path: &Path) -> Result<DatasetDescriptor> {
    let digest =
        hash_model(path, &HashOptions::default()).map_err(|e| ProvenanceError::Digest {
            path: path.display().to_string(),
            source: e,
        })?;
    let abs = std::fs::canonicalize(path).map_err(|e| ProvenanceError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let mut size = 0u64;
    for r in &digest.resources {
        let p = if r.name.path() == "." {
            abs.clone()
        } else {
            abs.join(r.name.path())
        };
        size += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    }
    Ok(DatasetDescriptor {
        name: digest.model_name.clone(),
        uri: format!("file://{}", abs.display()),
        digest: Digest::from_sha256_bytes(digest.root_digest),
        digest_method: DIGEST_METHOD.to_owned(),
        files: Some(digest.resources.len() as u64),
        size: Some(size),
    })
}

/// A `--dataset` argument: `<uri>@sha256:<hex>` (a reference by digest) or a
/// local path, which is hashed.
///
/// # Errors
/// A malformed digest (naming `--dataset`), or a path that cannot be hashed.
pub fn parse_dataset_ref(arg: &str) -> Result<DatasetDescriptor> {
    if let Some(at) = arg.rfind("@sha256:")
        && !Path::new(arg).exists()
    {
        let (uri, digest) = (&arg[..at], &arg[at + 1..]);
        if uri.is_empty() {
            return Err(ProvenanceError::invalid(
                "--dataset",
                format!("{arg:?}: the URI before @sha256: is empty"),
            ));
        }
        let digest = parse_digest("--dataset", digest)?;
        let name = uri
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(uri)
            .to_owned();
        return Ok(DatasetDescriptor {
            name,
            uri: uri.to_owned(),
            digest,
            digest_method: DIGEST_METHOD.to_owned(),
            files: None,
            size: None,
        });
    }
    let p = Path::new(arg);
    if !p.exists() {
        return Err(ProvenanceError::invalid(
            "--dataset",
            format!("{arg:?} is neither an existing path nor <uri>@sha256:<64 hex digits>"),
        ));
    }
    hash_dataset(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn directory_digest_is_the_oms_root_digest() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.csv"), b"x,y\n1,2\n").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b.csv"), b"x\n").unwrap();
        let desc = hash_dataset(d.path()).unwrap();
        let oms = hash_model(d.path(), &HashOptions::default()).unwrap();
        assert_eq!(desc.digest.hex(), oms.root_digest_hex());
        assert_eq!(
            serde_json::to_value(&desc).unwrap()["digest"],
            format!("sha256:{}", oms.root_digest_hex())
        );
        assert_eq!((desc.files, desc.size), (Some(2), Some(10)));
        // Same content elsewhere: same digest; one byte changed: another.
        let e = tempfile::tempdir().unwrap();
        std::fs::write(e.path().join("a.csv"), b"x,y\n1,2\n").unwrap();
        std::fs::create_dir(e.path().join("sub")).unwrap();
        std::fs::write(e.path().join("sub/b.csv"), b"x\n").unwrap();
        assert_eq!(hash_dataset(e.path()).unwrap().digest, desc.digest);
        std::fs::write(e.path().join("sub/b.csv"), b"y\n").unwrap();
        assert_ne!(hash_dataset(e.path()).unwrap().digest, desc.digest);
    }

    #[test]
    fn a_single_file_is_a_dataset_too() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("flows.parquet");
        std::fs::write(&f, b"PAR1....PAR1").unwrap();
        let desc = hash_dataset(&f).unwrap();
        assert_eq!((desc.files, desc.size), (Some(1), Some(12)));
        assert_eq!(desc.name, "flows.parquet");
        assert!(desc.uri.starts_with("file:///") && desc.uri.ends_with("flows.parquet"));
        assert_eq!(parse_dataset_ref(f.to_str().unwrap()).unwrap(), desc);
    }

    #[test]
    fn references_by_digest_are_checked() {
        let hex = "ab".repeat(32);
        let r = parse_dataset_ref(&format!("s3://bucket/flows/2026-11@sha256:{hex}")).unwrap();
        assert_eq!(r.uri, "s3://bucket/flows/2026-11");
        assert_eq!(r.digest.to_string(), format!("sha256:{hex}"));
        for bad in [
            "s3://b/x@sha256:abc",
            "s3://b/x@sha256:ZZ",
            "@sha256:abab",
            "/nonexistent/path",
        ] {
            let err = parse_dataset_ref(bad).unwrap_err();
            assert_eq!(err.field(), Some("--dataset"), "{bad}: {err}");
        }
    }
}
