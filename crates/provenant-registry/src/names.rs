//! Names of namespaces, models, aliases and labels, and model file paths.

use std::fmt;

use crate::RegistryError;

const MAX_SEGMENT: usize = 128;

fn check_segment(what: &'static str, full: &str, seg: &str) -> Result<(), RegistryError> {
    let bad = |reason: String| RegistryError::InvalidName {
        what,
        value: full.to_owned(),
        reason,
    };
    let Some(first) = seg.bytes().next() else {
        return Err(bad("empty path segment".into()));
    };
    if seg.len() > MAX_SEGMENT {
        return Err(bad(format!("segment longer than {MAX_SEGMENT} characters")));
    }
    if !matches!(first, b'a'..=b'z' | b'0'..=b'9') {
        return Err(bad(format!(
            "segment {seg:?} must start with a lowercase letter or digit"
        )));
    }
    if let Some(c) = seg
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        return Err(bad(format!(
            "character {c:?} not allowed (use lowercase a-z, 0-9, '.', '_', '-')"
        )));
    }
    Ok(())
}

/// A model's full name: a namespace (one or more `/`-separated segments) and a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelName {
    pub namespace: String,
    pub name: String,
}

impl ModelName {
    /// Parse `namespace/name`, e.g. `aiops/anomaly` or `netops/edge/latency`.
    pub fn parse(full: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::InvalidName {
            what: "model name",
            value: full.to_owned(),
            reason: reason.to_owned(),
        };
        if full.len() > 512 {
            return Err(bad("longer than 512 characters"));
        }
        let (namespace, name) = full
            .rsplit_once('/')
            .ok_or_else(|| bad("expected namespace/name"))?;
        for seg in namespace.split('/') {
            check_segment("model name", full, seg)?;
        }
        check_segment("model name", full, name)?;
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn full(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Alias names: one lowercase segment that is not a number (numbers are version numbers).
pub fn validate_alias(alias: &str) -> Result<(), RegistryError> {
    check_segment("alias", alias, alias)?;
    if alias.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegistryError::InvalidName {
            what: "alias",
            value: alias.to_owned(),
            reason: "an alias cannot be all digits".into(),
        });
    }
    Ok(())
}

/// Label keys: 1-63 characters of `[a-zA-Z0-9._/-]`, starting with a letter or digit.
pub fn validate_label_key(key: &str) -> Result<(), RegistryError> {
    let bad = |reason: &str| RegistryError::InvalidName {
        what: "label key",
        value: key.to_owned(),
        reason: reason.to_owned(),
    };
    if key.is_empty() || key.len() > 63 {
        return Err(bad("must be 1 to 63 characters"));
    }
    if !key.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(bad("must start with a letter or digit"));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
    {
        return Err(bad("only letters, digits, '.', '_', '-', '/' are allowed"));
    }
    Ok(())
}

/// Label values: up to 256 characters, no control characters.
pub fn validate_label_value(key: &str, value: &str) -> Result<(), RegistryError> {
    if value.chars().count() > 256 || value.chars().any(char::is_control) {
        return Err(RegistryError::InvalidName {
            what: "label value",
            value: format!("{key}={value}"),
            reason: "must be at most 256 characters without control characters".into(),
        });
    }
    Ok(())
}

/// A model file path: relative, `/`-separated, no `.`/`..`/empty segments,
/// no backslashes or control characters.
pub fn validate_file_path(path: &str) -> Result<(), RegistryError> {
    let bad = |reason: &str| RegistryError::InvalidPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if path.is_empty() {
        return Err(bad("empty path"));
    }
    if path.len() > 4096 {
        return Err(bad("longer than 4096 bytes"));
    }
    if path.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    if path.contains('\\') {
        return Err(bad("backslashes are not allowed (use '/')"));
    }
    if path.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    for seg in path.split('/') {
        match seg {
            "" => return Err(bad("empty path segment")),
            "." | ".." => return Err(bad("'.' and '..' segments are not allowed")),
            s if s.len() > 255 => return Err(bad("a segment is longer than 255 bytes")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        let m = ModelName::parse("netops/edge/latency-v2").unwrap();
        assert_eq!(m.namespace, "netops/edge");
        assert_eq!(m.name, "latency-v2");
        for bad in [
            "anomaly",
            "Aiops/x",
            "aiops/",
            "/x",
            "aiops//x",
            "ai ops/x",
            "aiops/-x",
            "aiops/x:1",
        ] {
            assert!(ModelName::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn file_paths() {
        for good in [
            "model.safetensors",
            "a/b/c.json",
            ".gitattributes",
            "weird name (1).bin",
        ] {
            validate_file_path(good).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\b",
            "a\0b",
            "a/",
        ] {
            assert!(validate_file_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn aliases_and_labels() {
        validate_alias("production").unwrap();
        assert!(validate_alias("7").is_err());
        assert!(validate_alias("Prod").is_err());
        validate_label_key("team/owner").unwrap();
        assert!(validate_label_key("-x").is_err());
        assert!(validate_label_value("k", "line\nbreak").is_err());
    }
}
