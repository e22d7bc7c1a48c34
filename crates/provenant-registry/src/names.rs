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

/// Characters no Windows file name may hold (besides `/`, `\` and control
/// characters, refused on their own): `:` also names a drive or an NTFS
/// alternate data stream.
const WINDOWS_FORBIDDEN: &[char] = &[':', '<', '>', '"', '|', '?', '*'];

/// Device names Windows reserves in every directory, with or without an
/// extension (`nul.txt` is the device too), compared case-insensitively.
/// <https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file>
fn windows_reserved(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or(segment);
    // "NUL .txt" is the device as well: Windows drops trailing spaces.
    let stem = stem.trim_end_matches(' ').to_ascii_uppercase();
    match stem.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let port = stem
                .strip_prefix("COM")
                .or_else(|| stem.strip_prefix("LPT"));
            matches!(
                port,
                Some("0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³")
            )
        }
    }
}

/// A model file path: relative, `/`-separated, no `.`/`..`/empty segments,
/// no backslashes or control characters, and nothing a client OS could not
/// write back as named: no `:` `<` `>` `"` `|` `?` `*`, no Windows device
/// names (`CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, also with
/// an extension, in any case), no segment ending in a dot or a space.
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
    if let Some(c) = path.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
        return Err(bad(&format!(
            "character {c:?} is not allowed (Windows cannot name a file with it)"
        )));
    }
    for seg in path.split('/') {
        match seg {
            "" => return Err(bad("empty path segment")),
            "." | ".." => return Err(bad("'.' and '..' segments are not allowed")),
            s if s.len() > 255 => return Err(bad("a segment is longer than 255 bytes")),
            s if s.ends_with('.') || s.ends_with(' ') => {
                return Err(bad(&format!(
                    "segment {s:?} ends in a dot or a space (Windows drops them)"
                )));
            }
            s if windows_reserved(s) => {
                return Err(bad(&format!(
                    "segment {s:?} is a device name reserved by Windows"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// How a file system that ignores case and Unicode normalisation (Windows,
/// macOS by default) sees a path: NFC, lowercased.
fn folded(path: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let lower = path.nfc().collect::<String>().to_lowercase();
    lower.nfc().collect()
}

/// The paths of one version, together: none repeats, none collides with
/// another on a file system that ignores case or Unicode normalisation
/// (`Model.bin` and `model.bin`; `é` composed and decomposed), and no path is
/// both a file and a directory of another (`a` and `a/b`, wherever they sort).
/// Each path is checked on its own by [`validate_file_path`]; a client can run
/// both before uploading anything.
pub fn validate_file_set(paths: &[&str]) -> Result<(), RegistryError> {
    use std::collections::{HashMap, HashSet};

    let mut exact: HashSet<&str> = HashSet::with_capacity(paths.len());
    let mut by_key: HashMap<String, &str> = HashMap::with_capacity(paths.len());
    let mut keys = Vec::with_capacity(paths.len());
    for &path in paths {
        if !exact.insert(path) {
            return Err(RegistryError::DuplicatePath(path.to_owned()));
        }
        let key = folded(path);
        keys.push(key.clone());
        if let Some(other) = by_key.insert(key, path) {
            return Err(RegistryError::InvalidPath {
                path: path.to_owned(),
                reason: format!(
                    "collides with {other:?} on a file system that ignores case or Unicode normalisation"
                ),
            });
        }
    }
    for (key, &path) in keys.iter().zip(paths) {
        // Folding neither adds nor removes '/', so the key's directories are
        // the folded directories of the path.
        for (i, _) in key.match_indices('/') {
            if let Some(&file) = by_key.get(&key[..i]) {
                return Err(RegistryError::InvalidPath {
                    path: path.to_owned(),
                    reason: format!("{file:?} is also a file"),
                });
            }
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
    fn file_paths_unsafe_on_some_client_os() {
        for good in [
            "console.txt",
            "com10.bin",
            "lpt.bin",
            "nullable/x",
            "a/aux-data.json",
            "v1.0/model.bin",
        ] {
            validate_file_path(good).unwrap();
        }
        for (bad, why) in [
            ("c:/x", "':'"),
            ("model.bin:stream", "':'"),
            ("a/b?.bin", "'?'"),
            ("a/w*.bin", "'*'"),
            ("CON", "reserved"),
            ("x/nul.txt", "reserved"),
            ("Aux.tar.gz", "reserved"),
            ("com1", "reserved"),
            ("LPT9.log", "reserved"),
            ("nul .txt", "reserved"),
            ("a/b.", "dot or a space"),
            ("dir./x", "dot or a space"),
            ("a /x", "dot or a space"),
            ("x ", "dot or a space"),
        ] {
            let err = validate_file_path(bad).expect_err(bad).to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn file_sets() {
        validate_file_set(&["a", "a-x", "b/c", "b/d", "bc"]).unwrap();
        // Exact repeats keep their own error.
        assert!(matches!(
            validate_file_set(&["a", "b", "a"]),
            Err(RegistryError::DuplicatePath(p)) if p == "a"
        ));
        // Case, and composed vs decomposed "é" (U+00E9 vs e + U+0301).
        for set in [
            &["Model.bin", "model.bin"][..],
            &["dir/A", "DIR/a"],
            &["caf\u{e9}.txt", "cafe\u{301}.txt"],
        ] {
            let err = validate_file_set(set).unwrap_err();
            assert!(
                matches!(&err, RegistryError::InvalidPath { reason, .. } if reason.contains("collides")),
                "{set:?}: {err}"
            );
        }
        // A file that is also a directory, however far apart they sort
        // ("a" < "a-x" < "a/b": the old neighbour check missed this).
        for set in [
            &["a", "a-x", "a/b"][..],
            &["a/b", "a-x", "a"],
            &["x/y/z", "x/y"],
            &["Docs", "docs/readme.md"],
        ] {
            let err = validate_file_set(set).unwrap_err();
            assert!(
                matches!(&err, RegistryError::InvalidPath { reason, .. } if reason.contains("is also a file")),
                "{set:?}: {err}"
            );
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
