//! Where a policy set comes from: a directory of `.rego` modules (or
//! in-memory modules), data files, and a cheap fingerprint of them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::{PolicyConfig, PolicyError, SignatureCheck};

/// Deepest directory nesting followed under a policy directory (a guard
/// against symbolic-link loops).
const MAX_DEPTH: usize = 32;

/// One Rego module: its path relative to the policy directory (`/`
/// separators) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSource {
    /// Relative path, e.g. `signed.rego` or `lib/provenant.rego`.
    pub path: String,
    /// The module's text.
    pub text: String,
}

impl ModuleSource {
    /// A module from its relative path and text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Whether the module is a test (`*_test.rego`): loaded by the test
    /// runner, not by the decision engine, and not part of the set digest.
    pub fn is_test(&self) -> bool {
        is_test_path(&self.path)
    }
}

/// Whether a module path names a test module (`*_test.rego`).
pub fn is_test_path(path: &str) -> bool {
    path.ends_with("_test.rego")
}

/// One data document: a name for messages (the file as given) and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSource {
    /// The file as given, or any label.
    pub name: String,
    /// The document; must be an object.
    pub value: Value,
}

/// Every `.rego` file under `dir`, recursively, sorted by relative path.
///
/// # Errors
/// [`PolicyError::Io`] for an unreadable directory or file,
/// [`PolicyError::Path`] for a non-UTF-8 name or nesting deeper than 32.
pub fn read_modules(dir: &Path) -> Result<Vec<ModuleSource>, PolicyError> {
    let mut files = Vec::new();
    rego_files(dir, dir, 0, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|(rel, path)| {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
                path: path.clone(),
                source,
            })?;
            Ok(ModuleSource::new(rel, text))
        })
        .collect()
}

/// `(relative path, path)` of every `.rego` file under `dir`.
fn rego_files(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), PolicyError> {
    if depth > MAX_DEPTH {
        return Err(PolicyError::Path {
            path: dir.to_owned(),
            reason: format!("nested more than {MAX_DEPTH} directories deep (a link loop?)"),
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PolicyError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        // Hidden entries are skipped: a Kubernetes ConfigMap volume holds its
        // files twice more in `..data/` and `..<timestamp>/` (the visible
        // names are links into them), and editors leave `.#x.rego` files.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Follows symbolic links, as OPA's loader does.
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            rego_files(root, &path, depth + 1, out)?;
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "rego") {
            out.push((relative(root, &path)?, path));
        }
    }
    Ok(())
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &Path, path: &Path) -> Result<String, PolicyError> {
    let rel = path.strip_prefix(root).map_err(|_| PolicyError::Path {
        path: path.to_owned(),
        reason: format!("not under {}", root.display()),
    })?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts.map(|p| p.join("/")).ok_or_else(|| PolicyError::Path {
        path: path.to_owned(),
        reason: "the file name is not UTF-8".into(),
    })
}

/// Reads a data file: YAML when the name ends `.yaml` or `.yml`, JSON
/// otherwise. The document must be an object.
///
/// # Errors
/// [`PolicyError::Io`], or [`PolicyError::Data`] when it does not parse or is
/// not an object.
pub fn read_data_file(path: &Path) -> Result<DataSource, PolicyError> {
    parse_data(path, &read_text(path)?)
}

/// A file's text (UTF-8).
pub(crate) fn read_text(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Parses the text of data file `path` as [`read_data_file`] does.
pub(crate) fn parse_data(path: &Path, text: &str) -> Result<DataSource, PolicyError> {
    let name = path.display().to_string();
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let value: Value = if yaml {
        serde_norway::from_str(text).map_err(|e| PolicyError::Data {
            file: name.clone(),
            reason: format!("not valid YAML: {e}"),
        })?
    } else {
        serde_json::from_str(text).map_err(|e| PolicyError::Data {
            file: name.clone(),
            reason: format!("not valid JSON: {e}"),
        })?
    };
    Ok(DataSource { name, value })
}

/// Deep-merges data documents in order at the root of `data`. Objects merge
/// member by member; the same path set twice to different values is a
/// conflict naming both documents (the same value twice is not).
///
/// # Errors
/// [`PolicyError::Data`] for a document that is not an object,
/// [`PolicyError::DataConflict`] for a conflict.
pub fn merge_data(sources: &[DataSource]) -> Result<Value, PolicyError> {
    let mut merged = Map::new();
    for (i, source) in sources.iter().enumerate() {
        let Value::Object(doc) = &source.value else {
            return Err(PolicyError::Data {
                file: source.name.clone(),
                reason: "the document must be an object (it is merged at the root of data)".into(),
            });
        };
        merge_into(&mut merged, doc, String::new()).map_err(|pointer| {
            // The first document in order that holds something at the pointer.
            let first = sources[..i]
                .iter()
                .find(|s| s.value.pointer(&pointer).is_some())
                .map_or_else(|| "an earlier data file".to_owned(), |s| s.name.clone());
            PolicyError::DataConflict {
                pointer,
                first,
                second: source.name.clone(),
            }
        })?;
    }
    Ok(Value::Object(merged))
}

/// Merges `doc` into `target`; on conflict, the JSON pointer of the value.
fn merge_into(
    target: &mut Map<String, Value>,
    doc: &Map<String, Value>,
    pointer: String,
) -> Result<(), String> {
    for (key, value) in doc {
        let here = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        match (target.get_mut(key), value) {
            (None, _) => {
                target.insert(key.clone(), value.clone());
            }
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_into(existing, incoming, here)?;
            }
            (Some(existing), _) if existing == value => {}
            (Some(_), _) => return Err(here),
        }
    }
    Ok(())
}

/// A cheap summary of a policy set's sources (relative path, size and
/// modification time of every non-test module and data file): poll it, and
/// recompile only when it changes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SourceFingerprint(Vec<(String, u64, Option<SystemTime>)>);

impl SourceFingerprint {
    /// The fingerprint of `dir`'s non-test `.rego` files and of `data_files`.
    ///
    /// # Errors
    /// As [`read_modules`] for the directory walk; a data file that cannot
    /// be examined is [`PolicyError::Io`].
    pub fn of(dir: Option<&Path>, data_files: &[PathBuf]) -> Result<Self, PolicyError> {
        let mut entries = Vec::new();
        if let Some(dir) = dir {
            let mut files = Vec::new();
            rego_files(dir, dir, 0, &mut files)?;
            files.sort();
            for (rel, path) in files {
                if is_test_path(&rel) {
                    continue;
                }
                entries.push(stat(format!("module {rel}"), &path)?);
            }
        }
        for path in data_files {
            entries.push(stat(format!("data {}", path.display()), path)?);
        }
        Ok(Self(entries))
    }

    /// The fingerprint of a set's sources and, when it must be signed, of
    /// its signature bundle (re-signing reloads the set).
    ///
    /// # Errors
    /// As [`SourceFingerprint::of`].
    pub fn of_config(
        config: &PolicyConfig,
        signature: Option<&SignatureCheck>,
    ) -> Result<Self, PolicyError> {
        let mut fingerprint = Self::of(Some(&config.dir), &config.data_files)?;
        if let Some(check) = signature {
            // A missing or unreadable signature is a state of its own: the
            // load that follows fails once, saying why, instead of at every poll.
            let label = format!("signature {}", check.bundle.display());
            fingerprint
                .0
                .push(stat(label.clone(), &check.bundle).unwrap_or((label, u64::MAX, None)));
        }
        Ok(fingerprint)
    }
}

fn stat(label: String, path: &Path) -> Result<(String, u64, Option<SystemTime>), PolicyError> {
    let meta = std::fs::metadata(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok((label, meta.len(), meta.modified().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(name: &str, value: Value) -> DataSource {
        DataSource {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn data_merges_deeply_and_names_both_files_on_conflict() {
        let merged = merge_data(&[
            data("a.json", json!({"x": {"k": 1, "same": [1]}})),
            data("b.yaml", json!({"x": {"j": 2, "same": [1]}, "y": true})),
        ])
        .unwrap();
        assert_eq!(
            merged,
            json!({"x": {"k": 1, "j": 2, "same": [1]}, "y": true})
        );

        let err = merge_data(&[
            data("a.json", json!({"x": {"a/b": 1}})),
            data("b.json", json!({"z": 0})),
            data("c.json", json!({"x": {"a/b": 2}})),
        ])
        .unwrap_err();
        match err {
            PolicyError::DataConflict {
                pointer,
                first,
                second,
            } => {
                assert_eq!(pointer, "/x/a~1b");
                assert_eq!(first, "a.json");
                assert_eq!(second, "c.json");
            }
            other => panic!("{other}"),
        }
        assert!(matches!(
            merge_data(&[data("a.json", json!([1]))]),
            Err(PolicyError::Data { .. })
        ));
    }
}
