//! Content digests as OCI descriptors, in-toto subjects and the registry's
//! API write them: `<algorithm>:<lowercase hex>`.
//!
//! [`Digest`] is parsed once, at the edge (a request, a file, a database
//! row), and travels as a value from then on: no crate formats
//! `"sha256:…"` strings or strips the prefix by hand. Parsing is strict — the
//! algorithm must be registered, the hex lowercase and of the algorithm's
//! exact length — as the OCI image specification requires for the
//! algorithms it registers
//! (<https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests>).

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A registered content-digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    /// The identifier before the colon (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// Length of the raw digest in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string is not a digest. The message names the rule broken; the
/// offending value is kept (truncated to 80 characters) for the caller to
/// report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {value:?}: {reason}")]
pub struct DigestParseError {
    pub value: String,
    pub reason: &'static str,
}

/// A content digest: algorithm plus raw bytes. Displays (and serialises) as
/// `sha256:<64 hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    bytes: [u8; 64],
}

impl Digest {
    /// A SHA-256 digest from its raw bytes.
    pub fn from_sha256_bytes(bytes: [u8; 32]) -> Self {
        let mut all = [0u8; 64];
        all[..32].copy_from_slice(&bytes);
        Self {
            algorithm: DigestAlgorithm::Sha256,
            bytes: all,
        }
    }

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        Self::from_sha256_bytes(sha2::Sha256::digest(data).into())
    }

    /// SHA-512 of `data`.
    pub fn sha512(data: &[u8]) -> Self {
        Self {
            algorithm: DigestAlgorithm::Sha512,
            bytes: sha2::Sha512::digest(data).into(),
        }
    }

    /// A digest of `algorithm` from raw bytes of the algorithm's length.
    pub fn from_raw(algorithm: DigestAlgorithm, raw: &[u8]) -> Option<Self> {
        if raw.len() != algorithm.byte_len() {
            return None;
        }
        let mut bytes = [0u8; 64];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Self { algorithm, bytes })
    }

    /// A digest of `algorithm` from its hex (the form in-toto subjects and
    /// `{"sha256": "…"}` maps use).
    pub fn from_hex(algorithm: DigestAlgorithm, hex: &str) -> Result<Self, DigestParseError> {
        let bad = |reason| DigestParseError {
            value: hex.chars().take(80).collect(),
            reason,
        };
        if hex.len() != algorithm.byte_len() * 2 {
            return Err(bad(match algorithm {
                DigestAlgorithm::Sha256 => "expected 64 hex characters for sha256",
                DigestAlgorithm::Sha512 => "expected 128 hex characters for sha512",
            }));
        }
        if hex.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad("hex must be lowercase 0-9a-f"));
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(hex, &mut bytes[..algorithm.byte_len()])
            .map_err(|_| bad("invalid hex"))?;
        Ok(Self { algorithm, bytes })
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The raw digest bytes (32 for SHA-256, 64 for SHA-512).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.byte_len()]
    }

    /// The raw bytes of a SHA-256 digest; `None` for other algorithms.
    pub fn sha256_bytes(&self) -> Option<[u8; 32]> {
        (self.algorithm == DigestAlgorithm::Sha256).then(|| {
            let mut out = [0u8; 32];
            out.copy_from_slice(&self.bytes[..32]);
            out
        })
    }

    /// Lowercase hex of the digest bytes, without the algorithm.
    pub fn hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// Whether `data` hashes to this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        let actual = match self.algorithm {
            DigestAlgorithm::Sha256 => Self::sha256(data),
            DigestAlgorithm::Sha512 => Self::sha512(data),
        };
        actual == *self
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| DigestParseError {
            value: s.chars().take(80).collect(),
            reason,
        };
        let (name, hex) = s
            .split_once(':')
            .ok_or_else(|| bad("must be <algorithm>:<hex>, as in \"sha256:…\""))?;
        let algorithm = DigestAlgorithm::from_name(name)
            .ok_or_else(|| bad("the algorithm must be sha256 or sha512"))?;
        Self::from_hex(algorithm, hex).map_err(|e| bad(e.reason))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints() {
        let d = Digest::sha256(b"");
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(EMPTY.parse::<Digest>().unwrap(), d);
        assert_eq!(d.as_bytes().len(), 32);
        assert!(d.matches(b""));
        assert!(!d.matches(b"x"));
        let long = Digest::sha512(b"abc");
        assert_eq!(long.to_string().len(), "sha512:".len() + 128);
        assert_eq!(long.to_string().parse::<Digest>().unwrap(), long);
        assert_eq!(long.sha256_bytes(), None);
        assert_ne!(Digest::sha256(b"abc").as_bytes(), &long.as_bytes()[..32]);
    }

    #[test]
    fn serde_round_trip() {
        let d = Digest::sha256(b"x");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "",
        ] {
            let err = bad.parse::<Digest>().expect_err(bad);
            assert!(!err.reason.is_empty());
        }
    }
}
