//! Version references: `ns/name:7`, `ns/name@sha256:…` (the whole digest, or
//! a prefix of at least [`MIN_DIGEST_PREFIX`] hex digits as `list` prints it),
//! `ns/name#alias`, or `ns/name` (latest).

use std::fmt;

use provenant_digest::Digest;

use crate::{ModelName, RegistryError};

/// Fewest hex digits of a digest prefix (`sha256:d23c2b0ee1fe`), what `list` prints.
pub const MIN_DIGEST_PREFIX: usize = 12;

/// Which version of a model a reference selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Number(i64),
    Digest(Digest),
    /// `sha256:` and 12 to 63 lowercase hex digits: the one version whose
    /// digest starts so (ambiguity is an error).
    DigestPrefix(String),
    Alias(String),
    Latest,
}

/// A parsed version reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub model: ModelName,
    pub selector: Selector,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::InvalidReference {
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (model, selector) = if let Some((m, d)) = s.split_once('@') {
            (m, digest_selector(d).map_err(|reason| bad(&reason))?)
        } else if let Some((m, a)) = s.split_once('#') {
            crate::validate_alias(a).map_err(|e| bad(&e.to_string()))?;
            (m, Selector::Alias(a.to_owned()))
        } else if let Some((m, n)) = s.rsplit_once(':') {
            let number: i64 = n
                .parse()
                .map_err(|_| bad("version number after ':' must be a positive integer"))?;
            if number < 1 {
                return Err(bad("version numbers start at 1"));
            }
            (m, Selector::Number(number))
        } else {
            (s, Selector::Latest)
        };
        let model = ModelName::parse(model).map_err(|e| bad(&e.to_string()))?;
        Ok(Self { model, selector })
    }

    /// `ns/name:N` from a model name and a version number given apart (as a
    /// route's path segments give them); errors read as those of
    /// [`Reference::parse`] on `ns/name:N`.
    pub fn numbered(model: &str, number: i64) -> Result<Self, RegistryError> {
        let bad = |reason: String| RegistryError::InvalidReference {
            value: format!("{model}:{number}"),
            reason,
        };
        if number < 1 {
            return Err(bad("version numbers start at 1".into()));
        }
        let model = ModelName::parse(model).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            model,
            selector: Selector::Number(number),
        })
    }

    /// `ns/name@sha256:…`: the version of `model` with this manifest digest.
    pub fn by_digest(model: ModelName, digest: Digest) -> Self {
        Self {
            model,
            selector: Selector::Digest(digest),
        }
    }
}

/// A whole digest, or a prefix of one (`sha256:` + at least
/// [`MIN_DIGEST_PREFIX`] hex digits).
fn digest_selector(d: &str) -> Result<Selector, String> {
    match d.parse::<Digest>() {
        Ok(digest) => Ok(Selector::Digest(digest)),
        Err(e) => {
            // Deliberately not a Digest: a prefix is partial user input (as
            // `provenant list` prints it), matched against stored digests.
            let hex = d
                .strip_prefix("sha256:")
                .filter(|h| {
                    !h.is_empty() && h.len() < 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
                })
                .ok_or_else(|| e.to_string())?;
            if hex.len() < MIN_DIGEST_PREFIX {
                return Err(format!(
                    "a digest prefix needs at least {MIN_DIGEST_PREFIX} hex digits (as `provenant list` prints), got {}",
                    hex.len()
                ));
            }
            Ok(Selector::DigestPrefix(format!(
                "sha256:{}",
                hex.to_ascii_lowercase()
            )))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Number(n) => write!(f, "{}:{n}", self.model),
            Selector::Digest(d) => write!(f, "{}@{d}", self.model),
            Selector::DigestPrefix(d) => write!(f, "{}@{d}", self.model),
            Selector::Alias(a) => write!(f, "{}#{a}", self.model),
            Selector::Latest => write!(f, "{}", self.model),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_forms() {
        let r = Reference::parse("aiops/anomaly:7").unwrap();
        assert_eq!(r.selector, Selector::Number(7));
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = Reference::parse(&format!("aiops/anomaly@{d}")).unwrap();
        assert_eq!(r.selector, Selector::Digest(d.parse().unwrap()));
        assert_eq!(r.to_string(), format!("aiops/anomaly@{d}"));
        let r = Reference::parse("netops/edge/m#production").unwrap();
        assert_eq!(r.model.namespace, "netops/edge");
        assert_eq!(r.selector, Selector::Alias("production".into()));
        assert_eq!(
            Reference::parse("aiops/anomaly").unwrap().selector,
            Selector::Latest
        );
    }

    #[test]
    fn digest_prefixes() {
        let r = Reference::parse("aiops/a@sha256:D23C2B0EE1FE").unwrap();
        assert_eq!(
            r.selector,
            Selector::DigestPrefix("sha256:d23c2b0ee1fe".into())
        );
        assert_eq!(r.to_string(), "aiops/a@sha256:d23c2b0ee1fe");
        let e = Reference::parse("aiops/a@sha256:d23c2b0ee1f").unwrap_err();
        assert!(e.to_string().contains("at least 12 hex digits"), "{e}");
        for bad in [
            "aiops/a@sha256:",
            "aiops/a@sha256:d23c2b0ee1fz",
            "aiops/a@d23c2b0ee1fe",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn numbered_reads_as_parsed() {
        assert_eq!(
            Reference::numbered("aiops/anomaly", 7).unwrap(),
            Reference::parse("aiops/anomaly:7").unwrap()
        );
        for (model, n) in [("aiops/anomaly", 0), ("anomaly", 3), ("aiops/Bad", 1)] {
            match Reference::numbered(model, n).unwrap_err() {
                RegistryError::InvalidReference { value, .. } => {
                    assert_eq!(value, format!("{model}:{n}"))
                }
                other => panic!("{model}:{n}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "aiops/anomaly:0",
            "aiops/anomaly:x",
            "aiops/anomaly@sha256:zz",
            "aiops/anomaly#7",
            "anomaly:3",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
