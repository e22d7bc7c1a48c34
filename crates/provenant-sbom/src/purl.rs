//! Package URLs (<https://github.com/package-url/purl-spec>, ECMA-427).
//!
//! Types we emit: `pkg:pypi`, `pkg:deb/debian`, `pkg:apk/alpine`, `pkg:cargo`, `pkg:npm`,
//! `pkg:oci` (container images), `pkg:huggingface` (models whose source is the Hugging Face
//! hub) and `pkg:generic` (models from this registry: `pkg:generic/<namespace>/<name>@<version>`
//! with a `checksum=sha256:<root digest>` qualifier).

use std::collections::BTreeMap;

/// A package URL under construction.
///
/// Types we emit: `pkg:pypi` (names normalised per PEP 503), `pkg:deb/debian` (or `ubuntu`,
/// with `arch` and `distro=<id>-<version_id>`), `pkg:apk/alpine`, `pkg:cargo` (`repository_url`
/// or `vcs_url` for crates not from crates.io), `pkg:npm` (scope as namespace), `pkg:oci`
/// (container images: `pkg:oci/<repo>@sha256:<manifest or config digest>?repository_url=…&tag=…`),
/// `pkg:generic` for models in this registry
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
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = ns
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        self
    }

    /// Set the version.
    #[must_use]
    pub fn version(mut self, v: Option<&str>) -> Self {
        self.version = v.filter(|v| !v.is_empty()).map(str::to_string);
        self
    }

    /// Add a qualifier (empty values are dropped, as the spec requires).
    #[must_use]
    pub fn qualifier(mut self, k: &str, v: Option<&str>) -> Self {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.qualifiers
                .insert(k.to_ascii_lowercase(), v.to_string());
        }
        self
    }

    /// Python package: name normalised per PEP 503, as the purl spec requires for `pypi`.
    pub fn pypi(name: &str, version: Option<&str>) -> Self {
        Self::new("pypi", &crate::util::pep503(name)).version(version)
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
                .namespace("debian")
                .version(Some("7.50.3-1"))
                .qualifier("arch", Some("i386"))
                .qualifier("distro", Some("jessie"))
                .to_string(),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"
        );
        assert_eq!(
            Purl::new("npm", "animation")
                .namespace("@angular")
                .version(Some("12.3.1"))
                .to_string(),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            Purl::pypi("Django_Allauth", Some("1.11.1")).to_string(),
            "pkg:pypi/django-allauth@1.11.1"
        );
    }

    #[test]
    fn versions_are_encoded() {
        assert_eq!(
            Purl::new("deb", "libc6")
                .namespace("debian")
                .version(Some("1:2.36-9+deb12u4"))
                .to_string(),
            "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4"
        );
    }
}
