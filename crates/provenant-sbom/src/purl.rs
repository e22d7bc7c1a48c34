//! Package URLs (<https://github.com/package-url/purl-spec>, ECMA-427): built by the
//! catalogers, parsed from SBOMs, VEX documents and waivers.
//!
//! Types we emit: `pkg:pypi`, `pkg:deb/debian`, `pkg:apk/alpine`, `pkg:cargo`, `pkg:npm`,
//! `pkg:oci` (container images), `pkg:huggingface` (models whose source is the Hugging Face
//! hub) and `pkg:generic` (models from this registry: `pkg:generic/<namespace>/<name>@<version>`
//! with a `checksum=sha256:<root digest>` qualifier). Any type is parsed.

use std::collections::BTreeMap;

/// A package URL that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package URL {purl:?}: {message}")]
pub struct PurlError {
    /// The text as given.
    pub purl: String,
    /// What is wrong with it.
    pub message: String,
}

/// A package URL: `pkg:type/namespace/name@version?qualifiers#subpath`.
///
/// Built with [`Purl::new`] and the `with_*` methods (or [`Purl::pypi`]), or read with
/// [`Purl::parse`]; the parts are kept decoded and [`Display`](std::fmt::Display) writes the
/// canonical form (qualifiers sorted by key, percent-encoding of everything but unreserved
/// characters; `:` and `/` kept in qualifier values).
///
/// Types we emit: `pkg:pypi` (name lowercased and `_` written `-`, as the purl spec requires),
/// `pkg:deb/debian` (or `ubuntu`, with `arch` and `distro=<id>-<version_id>`), `pkg:apk/alpine`,
/// `pkg:cargo` (`repository_url` or `vcs_url` for crates not from crates.io), `pkg:npm` (scope
/// as namespace), `pkg:oci` (container images:
/// `pkg:oci/<repo>@sha256:<manifest or config digest>?repository_url=…&tag=…`), `pkg:generic`
/// for models in this registry
/// (`pkg:generic/<namespace>/<name>@<version>?checksum=sha256:<OMS root digest>`), and
/// `pkg:huggingface` when the caller supplies it for a model that comes from the Hugging Face hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    ty: String,
    namespace: Vec<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
}

impl Purl {
    /// `pkg:<ty>/<name>`.
    pub fn new(ty: &str, name: &str) -> Self {
        Self {
            ty: ty.to_ascii_lowercase(),
            namespace: Vec::new(),
            name: name.to_string(),
            version: None,
            qualifiers: BTreeMap::new(),
        }
    }

    /// Set the namespace (`/`-separated segments).
    #[must_use]
    pub fn with_namespace(mut self, ns: &str) -> Self {
        self.namespace = ns
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        self
    }

    /// Set the version.
    #[must_use]
    pub fn with_version(mut self, v: Option<&str>) -> Self {
        self.version = v.filter(|v| !v.is_empty()).map(str::to_string);
        self
    }

    /// Add a qualifier (empty values are dropped, as the spec requires).
    #[must_use]
    pub fn with_qualifier(mut self, k: &str, v: Option<&str>) -> Self {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.qualifiers
                .insert(k.to_ascii_lowercase(), v.to_string());
        }
        self
    }

    /// Python package. The purl spec's `pypi` rule: the name is lowercased and `_` becomes
    /// `-`; dots stay (`boolean.py` → `pkg:pypi/boolean.py`, as `cyclonedx-py` writes it).
    /// Matching compares PEP 503-normalised names, so every spelling finds the same advisory.
    pub fn pypi(name: &str, version: Option<&str>) -> Self {
        Self::new("pypi", &name.trim().to_ascii_lowercase().replace('_', "-")).with_version(version)
    }

    /// Parse a package URL. The parts are percent-decoded; the type and qualifier keys are
    /// lowercased; a `#subpath` is ignored; empty qualifier values are dropped.
    pub fn parse(text: &str) -> Result<Purl, PurlError> {
        let err = |message: &str| PurlError {
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
            None => (rest, BTreeMap::new()),
        };
        let (ty, path) = rest.split_once('/').ok_or_else(|| err("missing name"))?;
        if ty.is_empty()
            || !ty
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
        {
            return Err(err("invalid type"));
        }
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
                let segs = ns
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(decode)
                    .collect::<Result<Vec<String>, String>>()
                    .map_err(|m| err(&m))?;
                (segs, decode(n).map_err(|m| err(&m))?)
            }
            None => (Vec::new(), decode(path).map_err(|m| err(&m))?),
        };
        if name.is_empty() {
            return Err(err("empty name"));
        }
        Ok(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace,
            name,
            version,
            qualifiers,
        })
    }

    /// The type, lowercase (`pypi`, `npm`, `deb`, …).
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The decoded namespace segments joined by `/` (`@angular`, `debian`), if any.
    pub fn namespace(&self) -> Option<String> {
        (!self.namespace.is_empty()).then(|| self.namespace.join("/"))
    }

    /// The decoded name, as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The decoded version.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The value of a qualifier (keys are lowercase).
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }

    /// Canonical string form.
    pub fn to_string_canonical(&self) -> String {
        let mut s = String::from("pkg:");
        s.push_str(&self.ty);
        for seg in &self.namespace {
            s.push('/');
            s.push_str(&encode(seg));
        }
        s.push('/');
        s.push_str(&encode(&self.name));
        if let Some(v) = &self.version {
            s.push('@');
            s.push_str(&encode(v));
        }
        let mut sep = '?';
        for (k, v) in &self.qualifiers {
            s.push(sep);
            sep = '&';
            s.push_str(k);
            s.push('=');
            s.push_str(&encode_qualifier(v));
        }
        s
    }
}

impl std::fmt::Display for Purl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_canonical())
    }
}

impl std::str::FromStr for Purl {
    type Err = PurlError;
    fn from_str(s: &str) -> Result<Self, PurlError> {
        Self::parse(s)
    }
}

fn parse_qualifiers(q: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("qualifier {pair:?} has no '='"))?;
        if k.is_empty() {
            return Err("empty qualifier key".into());
        }
        let v = decode(v)?;
        if !v.is_empty() {
            out.entry(k.to_ascii_lowercase()).or_insert(v);
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

fn encode_with(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode a namespace segment, name or version: everything but unreserved characters.
fn encode(s: &str) -> String {
    encode_with(s, &[])
}

/// Qualifier values may keep `:` and `/` (e.g. `checksum=sha256:…`, `repository_url=…`).
fn encode_qualifier(s: &str) -> String {
    encode_with(s, b":/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            Purl::new("deb", "curl")
                .with_namespace("debian")
                .with_version(Some("7.50.3-1"))
                .with_qualifier("arch", Some("i386"))
                .with_qualifier("distro", Some("jessie"))
                .to_string(),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"
        );
        assert_eq!(
            Purl::new("npm", "animation")
                .with_namespace("@angular")
                .with_version(Some("12.3.1"))
                .to_string(),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            Purl::pypi("Django_Allauth", Some("1.11.1")).to_string(),
            "pkg:pypi/django-allauth@1.11.1"
        );
    }

    #[test]
    fn pypi_names_follow_the_purl_spec_not_pep_503() {
        // Lowercase, `_` → `-`, dots stay (what cyclonedx-py writes).
        assert_eq!(
            Purl::pypi("boolean.py", Some("5.0")).to_string(),
            "pkg:pypi/boolean.py@5.0"
        );
        assert_eq!(
            Purl::pypi("Foo_Bar", Some("1.0")).to_string(),
            "pkg:pypi/foo-bar@1.0"
        );
        assert_eq!(
            Purl::pypi("zope.interface", Some("6.4")).to_string(),
            "pkg:pypi/zope.interface@6.4"
        );
        assert_eq!(Purl::pypi("PyYAML", None).to_string(), "pkg:pypi/pyyaml");
    }

    #[test]
    fn versions_are_encoded() {
        assert_eq!(
            Purl::new("deb", "libc6")
                .with_namespace("debian")
                .with_version(Some("1:2.36-9+deb12u4"))
                .to_string(),
            "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4"
        );
    }

    #[test]
    fn parses_common_purls() {
        let p = Purl::parse("pkg:pypi/Django_Rest@3.1.0?extension=whl#sub").unwrap();
        assert_eq!(p.ty(), "pypi");
        assert_eq!(p.name(), "Django_Rest");
        assert_eq!(p.version(), Some("3.1.0"));
        assert_eq!(p.qualifier("extension"), Some("whl"));
        let p = Purl::parse("pkg:npm/%40angular/core@16.0.0").unwrap();
        assert_eq!(p.namespace().as_deref(), Some("@angular"));
        assert_eq!(p.name(), "core");
        let p = Purl::parse("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12")
            .unwrap();
        assert_eq!(p.version(), Some("3.0.11-1~deb12u2"));
        assert_eq!(p.qualifier("distro"), Some("debian-12"));
        assert_eq!(p.qualifier("arch"), Some("amd64"));
        let p = Purl::parse("pkg:golang/github.com/gin-gonic/gin@v1.9.0").unwrap();
        assert_eq!(p.namespace().as_deref(), Some("github.com/gin-gonic"));
        assert_eq!(Purl::parse(&p.to_string()).unwrap(), p);
        let p = Purl::parse("pkg:npm/left-pad").unwrap();
        assert_eq!(p.version(), None);
    }

    #[test]
    fn what_we_write_parses_back() {
        for p in [
            Purl::new("deb", "libc6")
                .with_namespace("debian")
                .with_version(Some("1:2.36-9+deb12u4"))
                .with_qualifier("distro", Some("debian-12")),
            Purl::new("generic", "m")
                .with_namespace("team/sub")
                .with_version(Some("7"))
                .with_qualifier("checksum", Some("sha256:00ff")),
            Purl::pypi("boolean.py", Some("5.0")),
        ] {
            assert_eq!(Purl::parse(&p.to_string()).unwrap(), p, "{p}");
        }
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
            let e = Purl::parse(bad).unwrap_err();
            assert_eq!(e.purl, bad);
        }
    }
}
