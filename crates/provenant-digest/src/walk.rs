use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{DigestError, Result};
use crate::options::HashOptions;
use crate::path::{is_under, validate_relative_path};

/// A regular file of a model, as the one walker lists it (for hashing,
/// signing and pushing alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    /// Model-relative POSIX path (`.` for a single-file model).
    pub rel: String,
    /// Where to read it (the resolved target for an allowed symlink).
    pub abs: PathBuf,
    pub size: u64,
}

pub(crate) struct Walked {
    pub model_name: String,
    pub files: Vec<ModelFile>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DigestError + '_ {
    move |source| DigestError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The files of a model, sorted by path: the one set of rules that hashing,
/// signing and `push` share, so that a pushed version holds exactly the files
/// its signature covers. See [`walk`] for the rules. A single-file model is
/// listed as `.` (its OMS resource name).
pub fn list_model_files(model: &Path, opts: &HashOptions) -> Result<Vec<ModelFile>> {
    let mut files = walk(model, opts)?.files;
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(files)
}

/// Lists the files of a model the way `model_signing` does: every regular file
/// below the root, minus ignored paths; symlinks refused unless allowed (then
/// links to files inside the model are hashed at the link's path, links to
/// directories are not descended, and links out of the model are refused).
pub(crate) fn walk(model: &Path, opts: &HashOptions) -> Result<Walked> {
    let root = fs::canonicalize(model).map_err(io_err(model))?;
    let meta = fs::metadata(&root).map_err(io_err(model))?;
    let model_name = match model.file_name() {
        Some(n) if n != ".." => n.to_string_lossy().into_owned(),
        _ => root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };

    let only: Option<HashSet<&str>> = opts
        .only_files
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());

    if meta.is_file() {
        let files = if only.as_ref().is_none_or(|o| o.contains(".")) {
            vec![ModelFile {
                rel: ".".to_owned(),
                abs: root,
                size: meta.len(),
            }]
        } else {
            Vec::new()
        };
        return Ok(Walked { model_name, files });
    }
    if !meta.is_dir() {
        return Err(DigestError::UnsupportedFileType {
            path: model.display().to_string(),
        });
    }

    let ignores = opts.effective_ignore_paths();
    for p in &ignores {
        validate_relative_path(p)?;
    }
    // Directories that lead to a selected file (ignore-unsigned-files mode).
    let only_dirs: Option<HashSet<&str>> = only.as_ref().map(|o| {
        let mut dirs = HashSet::new();
        for f in o {
            let mut p = *f;
            while let Some(i) = p.rfind('/') {
                p = &p[..i];
                dirs.insert(p);
            }
        }
        dirs
    });

    let mut files = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.clone(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(io_err(&dir))?;
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let abs = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(DigestError::NonUtf8Path { path: abs });
            };
            let rel = if rel_dir.is_empty() {
                name.to_owned()
            } else {
                format!("{rel_dir}/{name}")
            };
            if ignores.iter().any(|i| is_under(&rel, i)) {
                continue;
            }
            let selected_file = only.as_ref().is_none_or(|o| o.contains(rel.as_str()));
            let selected_dir = only_dirs.as_ref().is_none_or(|d| d.contains(rel.as_str()));
            if !selected_file && !selected_dir {
                continue;
            }
            let ft = entry.file_type().map_err(io_err(&abs))?;
            if ft.is_symlink() {
                if !opts.allow_symlinks {
                    return Err(DigestError::SymlinkRefused { path: rel });
                }
                let target = fs::canonicalize(&abs).map_err(io_err(&abs))?;
                if !target.starts_with(&root) {
                    return Err(DigestError::SymlinkEscapes { path: rel, target });
                }
                let meta = fs::metadata(&target).map_err(io_err(&abs))?;
                if meta.is_file() {
                    if selected_file {
                        files.push(ModelFile {
                            rel,
                            abs: target,
                            size: meta.len(),
                        });
                    }
                } else if !meta.is_dir() {
                    return Err(DigestError::UnsupportedFileType { path: rel });
                }
                // Symlinked directories are not descended (as model_signing's glob).
            } else if ft.is_dir() {
                stack.push((abs, rel));
            } else if ft.is_file() {
                if selected_file {
                    let meta = entry.metadata().map_err(io_err(&abs))?;
                    files.push(ModelFile {
                        rel,
                        abs,
                        size: meta.len(),
                    });
                }
            } else {
                return Err(DigestError::UnsupportedFileType { path: rel });
            }
        }
    }
    Ok(Walked { model_name, files })
}
