//! A small package-URL parser (<https://github.com/package-url/purl-spec>):
//! `pkg:type/namespace/name@version?qualifiers#subpath`. We need the type,
//! namespace, name and version (and qualifiers kept for display), decoded.

use std::fmt;

use crate::error::VulnError;
use crate::version::Ecosystem;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// Lower-cased type (`pypi`, `npm`, `deb`, …).
    pub ty: String,
    /// Decoded namespace segments joined by `/` (`@angular`, `debian`).
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Decoded `key=value` qualifiers, keys lower-cased, in input order.
    pub qualifiers: Vec<(String, String)>,
}

impl Purl {
    pub fn parse(text: &str) -> Result<Purl, VulnError> {
        let err = |message: &str| VulnError::Purl {
            purl: text.to_string(),
            message: message.to_string(),
        };
        let s = text.trim();
        let rest = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("pkg:") => &s[4..],
            _ => return Err(err("does not start with pkg:")),
        };
        let rest = rest.trim_start_matches('/');
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, parse_qualifiers(q).map_err(|m| err(&m))?),
            None => (rest, Vec::new()),
        };
        let (ty, path) = rest.split_once('/').ok_or_else(|| err("missing name"))?;
        if ty.is_empty()
            || !ty
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
        {
            return Err(err("invalid type"));
        }
        let ty = ty.to_ascii_lowercase();
        let path = path.trim_end_matches('/');
        let (path, version) = match path.rsplit_once('@') {
            // `@` inside the path's first segment is an npm scope, not a version.
            Some((p, v)) if !p.is_empty() => (p, Some(decode(v).map_err(|m| err(&m))?)),
            _ => (path, None),
        };
        if version.as_deref() == Some("") {
            return Err(err("empty version"));
        }
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => {
                let segs: Result<Vec<String>, String> = ns
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(decode)
                    .collect();
                let segs = segs.map_err(|m| err(&m))?;
                (
                    (!segs.is_empty()).then(|| segs.join("/")),
                    decode(n).map_err(|m| err(&m))?,
                )
            }
            None => (None, decode(path).map_err(|m| err(&m))?),
        };
        if name.is_empty() {
            return Err(err("empty name"));
        }
        Ok(Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers,
        })
    }

    /// The ecosystem this purl's type maps to, if we match that ecosystem.
    pub fn ecosystem(&self) -> Option<Ecosystem> {
        Ecosystem::from_purl(&self.ty, self.namespace.as_deref())
    }

    /// The package name as OSV spells it in that ecosystem (npm scopes and Go
    /// module paths include the namespace).
    pub fn osv_name(&self) -> String {
        match (self.ty.as_str(), &self.namespace) {
            ("npm" | "golang", Some(ns)) => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// The value of a qualifier (keys are lower case).
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether an OSV ecosystem string's release suffix (`Debian:12`,
    /// `Alpine:v3.18`, `Ubuntu:22.04:LTS`) fits this purl's `distro`
    /// qualifier (`debian-12`, `alpine-3.18.4`, `ubuntu-22.04`). Without a
    /// suffix or without a qualifier every release fits.
    pub fn fits_release(&self, osv_ecosystem: &str) -> bool {
        let Some((_, suffix)) = osv_ecosystem.split_once(':') else {
            return true;
        };
        let Some(distro) = self.qualifier("distro") else {
            return true;
        };
        let want = suffix.split(':').next().unwrap_or(suffix);
        let want = want.strip_prefix('v').unwrap_or(want);
        let have = distro.rsplit_once('-').map_or(distro, |(_, v)| v);
        let have = have.strip_prefix('v').unwrap_or(have);
        have.eq_ignore_ascii_case(want)
            || have
                .strip_prefix(want)
                .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The purl without version and qualifiers, with the name normalised as
    /// the ecosystem requires: the identity of a package across versions.
    pub fn package_key(&self) -> String {
        let name = match self.ecosystem() {
            Some(e) => e.normalize_name(&self.name),
            None => self.name.clone(),
        };
        match &self.namespace {
            Some(ns) => format!("pkg:{}/{}/{}", self.ty, ns.to_ascii_lowercase(), name),
            None => format!("pkg:{}/{}", self.ty, name),
        }
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for seg in ns.split('/') {
                write!(f, "{}/", encode(seg))?;
            }
        }
        f.write_str(&encode(&self.name))?;
        if let Some(v) = &self.version {
            write!(f, "@{}", encode(v))?;
        }
        for (i, (k, v)) in self.qualifiers.iter().enumerate() {
            write!(f, "{}{k}={}", if i == 0 { '?' } else { '&' }, encode(v))?;
        }
        Ok(())
    }
}

fn parse_qualifiers(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("qualifier {pair:?} has no '='"))?;
        if k.is_empty() {
            return Err("empty qualifier key".into());
        }
        let v = decode(v)?;
        if !v.is_empty() {
            out.push((k.to_ascii_lowercase(), v));
        }
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("truncated percent-escape in {s:?}"))?;
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| format!("invalid percent-escape %{hex} in {s:?}"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-escapes in {s:?} are not UTF-8"))
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'~' | b'+' | b':') {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_purls() {
        let p = Purl::parse("pkg:pypi/Django_Rest@3.1.0?extension=whl#sub").unwrap();
        assert_eq!(p.ty, "pypi");
        assert_eq!(p.name, "Django_Rest");
        assert_eq!(p.version.as_deref(), Some("3.1.0"));
        assert_eq!(p.package_key(), "pkg:pypi/django-rest");
        let p = Purl::parse("pkg:npm/%40angular/core@16.0.0").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.osv_name(), "@angular/core");
        let p = Purl::parse("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12")
            .unwrap();
        assert_eq!(p.ecosystem(), Some(Ecosystem::Debian));
        assert_eq!(p.version.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(p.qualifiers[1], ("distro".into(), "debian-12".into()));
        let p = Purl::parse("pkg:golang/github.com/gin-gonic/gin@v1.9.0").unwrap();
        assert_eq!(p.osv_name(), "github.com/gin-gonic/gin");
        assert_eq!(Purl::parse(&p.to_string()).unwrap(), p);
        let p = Purl::parse("pkg:npm/left-pad").unwrap();
        assert_eq!(p.version, None);
    }

    #[test]
    fn release_suffixes_fit_distro_qualifiers() {
        let deb = Purl::parse("pkg:deb/debian/openssl@3.0.11-1?distro=debian-12").unwrap();
        assert!(deb.fits_release("Debian:12"));
        assert!(deb.fits_release("Debian"));
        assert!(!deb.fits_release("Debian:11"));
        let apk = Purl::parse("pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.18.4").unwrap();
        assert!(apk.fits_release("Alpine:v3.18"));
        assert!(!apk.fits_release("Alpine:v3.1"));
        let ubu = Purl::parse("pkg:deb/ubuntu/curl@8.5.0?distro=ubuntu-22.04").unwrap();
        assert!(ubu.fits_release("Ubuntu:22.04:LTS"));
        assert!(!ubu.fits_release("Ubuntu:Pro:18.04:LTS"));
        let bare = Purl::parse("pkg:deb/debian/openssl@3.0.11-1").unwrap();
        assert!(bare.fits_release("Debian:11"));
    }

    #[test]
    fn rejects_bad_purls() {
        for bad in [
            "",
            "pypi/x",
            "pkg:",
            "pkg:pypi",
            "pkg:pypi/",
            "pkg:py$pi/x",
            "pkg:pypi/x@",
            "pkg:pypi/x%zz",
            "pkg:pypi/x?a",
        ] {
            assert!(Purl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
