//! SemVer 2.0.0 precedence (<https://semver.org/#spec-item-11>), as used by
//! OSV `SEMVER` ranges and by crates.io, npm and Go versions.
//!
//! Parsing is slightly lenient where real data needs it: a leading `v` (Go
//! module versions) and missing minor/patch components (`1.2` = `1.2.0`) are
//! accepted. Build metadata is kept but ignored for precedence.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct SemVer {
    major: u128,
    minor: u128,
    patch: u128,
    pre: Vec<Ident>,
    build: String,
}

/// A pre-release identifier: numeric identifiers sort before alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Num(u128),
    Alpha(String),
}

impl SemVer {
    pub fn parse(text: &str) -> Result<SemVer, String> {
        let err = |why: &str| format!("{text:?} is not a SemVer version: {why}");
        let s = text.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, build) = match s.split_once('+') {
            Some((v, b)) => {
                if b.is_empty() || !b.split('.').all(valid_ident) {
                    return Err(err("invalid build metadata"));
                }
                (v, b.to_string())
            }
            None => (s, String::new()),
        };
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut nums = [0u128; 3];
        for (i, part) in core.split('.').enumerate() {
            if i == 3 {
                return Err(err("more than three numeric components"));
            }
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err("non-numeric component"));
            }
            nums[i] = part.parse().map_err(|_| err("number too large"))?;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => {
                let mut ids = Vec::new();
                for id in p.split('.') {
                    if !valid_ident(id) {
                        return Err(err("invalid pre-release identifier"));
                    }
                    ids.push(if id.bytes().all(|c| c.is_ascii_digit()) {
                        Ident::Num(id.parse().map_err(|_| err("number too large"))?)
                    } else {
                        Ident::Alpha(id.to_string())
                    });
                }
                ids
            }
        };
        Ok(SemVer {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            build,
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Build metadata (after `+`), ignored for precedence.
    pub fn build(&self) -> &str {
        &self.build
    }
}

fn valid_ident(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release has lower precedence than the release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SemVer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SemVer {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SemVer {
        SemVer::parse(s).unwrap()
    }

    #[test]
    fn spec_item_11_example() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
            "10.0.0",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn build_metadata_is_ignored_and_leniency() {
        assert_eq!(v("1.0.0+build.5"), v("1.0.0"));
        assert_eq!(v("v1.2"), v("1.2.0"));
        assert_eq!(v("1.0.0-x-y.7"), v("1.0.0-x-y.7"));
        assert_eq!(v("1.0.0+b").build(), "b");
        for bad in [
            "",
            "1.x",
            "1.2.3.4",
            "1.0.0-",
            "1.0.0-a..b",
            "1.0.0+",
            "a.b.c",
            "1.0.0-a$",
        ] {
            assert!(SemVer::parse(bad).is_err(), "{bad:?}");
        }
    }
}
