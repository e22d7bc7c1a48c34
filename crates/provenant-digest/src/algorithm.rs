use std::fmt;
use std::str::FromStr;

use crate::error::DigestError;

/// Hash algorithm applied to each resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashAlgorithm {
    /// SHA-256 (the OMS default).
    #[default]
    Sha256,
    /// BLAKE2b with 64-byte output (`hashlib.blake2b()` defaults).
    Blake2b,
    /// BLAKE3 with 32-byte output.
    Blake3,
}

impl HashAlgorithm {
    /// The identifier `model_signing` writes as `hash_type` and as the
    /// per-resource `algorithm` in `files` serialization.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake2b => "blake2b",
            Self::Blake3 => "blake3",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 | Self::Blake3 => 32,
            Self::Blake2b => 64,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = DigestError;

    /// Accepts the manifest identifiers and the `model_signing` API names
    /// (`blake2` is what its Python API calls `blake2b`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sha256" => Ok(Self::Sha256),
            "blake2b" | "blake2" => Ok(Self::Blake2b),
            "blake3" => Ok(Self::Blake3),
            _ => Err(DigestError::UnknownAlgorithm { name: s.to_owned() }),
        }
    }
}

/// Streaming state of one resource digest.
pub(crate) enum StreamHasher {
    Sha256(sha2::Sha256),
    Blake2b(Box<blake2::Blake2b512>),
    Blake3(Box<blake3::Hasher>),
}

impl StreamHasher {
    pub(crate) fn new(algorithm: HashAlgorithm) -> Self {
        use sha2::Digest as _;
        match algorithm {
            HashAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake2b => Self::Blake2b(Box::new(blake2::Blake2b512::new())),
            HashAlgorithm::Blake3 => Self::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        use sha2::Digest as _;
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Blake2b(h) => h.update(data),
            Self::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// Like `update`, but may use all cores (BLAKE3 only).
    pub(crate) fn update_parallel(&mut self, data: &[u8]) {
        match self {
            Self::Blake3(h) => {
                h.update_rayon(data);
            }
            _ => self.update(data),
        }
    }

    pub(crate) fn finalize(self) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Blake2b(h) => h.finalize().to_vec(),
            Self::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_vectors() {
        // Empty input, from the respective specifications / model_signing output.
        let mut h = StreamHasher::new(HashAlgorithm::Sha256);
        h.update(b"");
        assert_eq!(
            hex(&h.finalize()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let h = StreamHasher::new(HashAlgorithm::Blake2b);
        assert_eq!(
            hex(&h.finalize()),
            "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce"
        );
        let h = StreamHasher::new(HashAlgorithm::Blake3);
        assert_eq!(
            hex(&h.finalize()),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn names_round_trip() {
        for a in [
            HashAlgorithm::Sha256,
            HashAlgorithm::Blake2b,
            HashAlgorithm::Blake3,
        ] {
            assert_eq!(a.name().parse::<HashAlgorithm>().unwrap(), a);
        }
        assert_eq!(
            "blake2".parse::<HashAlgorithm>().unwrap(),
            HashAlgorithm::Blake2b
        );
        assert!("md5".parse::<HashAlgorithm>().is_err());
    }
}
