//! Ecosystems, package-name normalisation and each ecosystem's version order.

mod apk;
mod dpkg;
mod pep440;
mod semver;

use std::cmp::Ordering;
use std::fmt;

pub use apk::Apk;
pub use dpkg::Dpkg;
pub use pep440::Pep440;
pub use semver::SemVer;

/// An OSV ecosystem (the part of `affected[].package.ecosystem` before any
/// `:release` suffix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    PyPI,
    CratesIo,
    Npm,
    Go,
    Debian,
    Ubuntu,
    Alpine,
    Wolfi,
    Chainguard,
    /// Any other ecosystem: indexed, but versions cannot be compared.
    Other(String),
}

impl Ecosystem {
    /// From an OSV ecosystem string (`PyPI`, `Debian:12`, `Alpine:v3.18`).
    pub fn from_osv(s: &str) -> Ecosystem {
        let base = s.split_once(':').map_or(s, |(b, _)| b).trim();
        match base {
            "PyPI" => Ecosystem::PyPI,
            "crates.io" => Ecosystem::CratesIo,
            "npm" => Ecosystem::Npm,
            "Go" => Ecosystem::Go,
            "Debian" => Ecosystem::Debian,
            "Ubuntu" => Ecosystem::Ubuntu,
            "Alpine" => Ecosystem::Alpine,
            "Wolfi" => Ecosystem::Wolfi,
            "Chainguard" => Ecosystem::Chainguard,
            other => Ecosystem::Other(other.to_string()),
        }
    }

    /// From a package-URL type (and namespace, which tells Debian from Ubuntu).
    pub fn from_purl(ty: &str, namespace: Option<&str>) -> Option<Ecosystem> {
        let ns = namespace.map(str::to_ascii_lowercase);
        Some(match ty {
            "pypi" => Ecosystem::PyPI,
            "cargo" => Ecosystem::CratesIo,
            "npm" => Ecosystem::Npm,
            "golang" => Ecosystem::Go,
            "deb" => match ns.as_deref() {
                Some("ubuntu") => Ecosystem::Ubuntu,
                Some("debian") | None => Ecosystem::Debian,
                Some(_) => return None,
            },
            "apk" => match ns.as_deref() {
                Some("wolfi") => Ecosystem::Wolfi,
                Some("chainguard") => Ecosystem::Chainguard,
                Some("alpine") | None => Ecosystem::Alpine,
                Some(_) => return None,
            },
            _ => return None,
        })
    }

    /// The version scheme of `ECOSYSTEM` ranges in this ecosystem, if we have it.
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            Ecosystem::PyPI => Some(Scheme::Pep440),
            Ecosystem::CratesIo | Ecosystem::Npm | Ecosystem::Go => Some(Scheme::SemVer),
            Ecosystem::Debian | Ecosystem::Ubuntu => Some(Scheme::Dpkg),
            Ecosystem::Alpine | Ecosystem::Wolfi | Ecosystem::Chainguard => Some(Scheme::Apk),
            Ecosystem::Other(_) => None,
        }
    }

    /// The package name as the index keys it: PEP 503 normalisation for
    /// PyPI, ASCII lower case for crates.io (its names are case-insensitive),
    /// unchanged elsewhere.
    pub fn normalize_name(&self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => normalize_pypi(name),
            Ecosystem::CratesIo => name.to_ascii_lowercase(),
            _ => name.to_string(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "Go",
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Wolfi => "Wolfi",
            Ecosystem::Chainguard => "Chainguard",
            Ecosystem::Other(s) => s,
        })
    }
}

/// PEP 503: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            in_sep = true;
        } else {
            if in_sep && !out.is_empty() {
                out.push('-');
            }
            in_sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Pep440,
    SemVer,
    Dpkg,
    Apk,
}

impl Scheme {
    pub fn parse(self, text: &str) -> Result<Version, String> {
        Ok(match self {
            Scheme::Pep440 => Version::Pep440(Pep440::parse(text)?),
            Scheme::SemVer => Version::SemVer(SemVer::parse(text)?),
            Scheme::Dpkg => Version::Dpkg(Dpkg::parse(text)?),
            Scheme::Apk => Version::Apk(Apk::parse(text)?),
        })
    }
}

/// A parsed version of some scheme. Versions of different schemes are never
/// compared by the matcher; `Ord` orders them by scheme only to be total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Pep440(Pep440),
    SemVer(SemVer),
    Dpkg(Dpkg),
    Apk(Apk),
}

impl Version {
    fn rank(&self) -> u8 {
        match self {
            Version::Pep440(_) => 0,
            Version::SemVer(_) => 1,
            Version::Dpkg(_) => 2,
            Version::Apk(_) => 3,
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Version::Pep440(a), Version::Pep440(b)) => a.cmp(b),
            (Version::SemVer(a), Version::SemVer(b)) => a.cmp(b),
            (Version::Dpkg(a), Version::Dpkg(b)) => a.cmp(b),
            (Version::Apk(a), Version::Apk(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_pypi("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize_pypi("FRIENDLY._-bard"), "friendly-bard");
        assert_eq!(normalize_pypi("zope.interface"), "zope-interface");
        assert_eq!(normalize_pypi("Pillow"), "pillow");
    }

    #[test]
    fn ecosystems_from_osv_and_purl() {
        assert_eq!(Ecosystem::from_osv("Debian:12"), Ecosystem::Debian);
        assert_eq!(Ecosystem::from_osv("Alpine:v3.18"), Ecosystem::Alpine);
        assert_eq!(
            Ecosystem::from_osv("Maven"),
            Ecosystem::Other("Maven".into())
        );
        assert_eq!(
            Ecosystem::from_purl("deb", Some("ubuntu")),
            Some(Ecosystem::Ubuntu)
        );
        assert_eq!(
            Ecosystem::from_purl("cargo", None),
            Some(Ecosystem::CratesIo)
        );
        assert_eq!(Ecosystem::from_purl("deb", Some("mint")), None);
        assert_eq!(Ecosystem::from_purl("maven", Some("org")), None);
    }
}
