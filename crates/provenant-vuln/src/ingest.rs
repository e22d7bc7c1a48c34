//! Reading OSV sources: a directory tree of `.json`/`.yaml` records, a
//! `.zip` export (OSV's per-ecosystem `all.zip`), or a single record file.
//! Records are parsed in parallel; every failure is an item with the file
//! and field, never an abort.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::VulnError;
use crate::osv::{Format, MAX_RECORD_BYTES, Record, RecordError, parse_record};

/// One record file of a source and what reading it gave.
#[derive(Debug)]
pub struct SourceItem {
    /// Path (or `archive.zip!entry`) for messages.
    pub file: String,
    pub result: Result<Record, RecordError>,
}

/// Zip entries are decompressed and parsed this many (or this many bytes) at
/// a time, so memory stays bounded whatever the archive's size.
const ZIP_BATCH: usize = 2048;
const ZIP_BATCH_BYTES: usize = 256 * 1024 * 1024;

/// Reads every record of a source. Errors only when the source itself is
/// unusable (missing, unreadable directory, not a zip).
pub fn read_source(path: &Path) -> Result<Vec<SourceItem>, VulnError> {
    let meta = fs::metadata(path).map_err(|e| VulnError::io(path, e))?;
    if meta.is_dir() {
        let mut files = Vec::new();
        let mut items = Vec::new();
        walk(path, &mut files, &mut items)?;
        files.sort();
        items.extend(parse_parallel(files, |p: &PathBuf| {
            let file = p.display().to_string();
            let result = read_limited_file(p).and_then(|bytes| parse_named(&file, &bytes));
            SourceItem { file, result }
        }));
        return Ok(items);
    }
    let name = path.to_string_lossy().to_string();
    if name.to_ascii_lowercase().ends_with(".zip") {
        return read_zip(path);
    }
    if Format::from_name(&name).is_some() {
        let result = read_limited_file(path).and_then(|bytes| parse_named(&name, &bytes));
        return Ok(vec![SourceItem { file: name, result }]);
    }
    Err(VulnError::UnsupportedSource {
        path: path.to_path_buf(),
    })
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    items: &mut Vec<SourceItem>,
) -> Result<(), VulnError> {
    let entries = fs::read_dir(dir).map_err(|e| VulnError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| VulnError::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        // Never follow symbolic links: they could lead out of the tree.
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                items.push(SourceItem {
                    file: path.display().to_string(),
                    result: Err(io_record_error(&e)),
                });
                continue;
            }
        };
        if ft.is_dir() {
            walk(&path, files, items)?;
        } else if ft.is_file() && Format::from_name(&name).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

fn io_record_error(e: &std::io::Error) -> RecordError {
    RecordError {
        field: "(file)".into(),
        message: e.to_string(),
        id: None,
    }
}

fn read_limited_file(path: &Path) -> Result<Vec<u8>, RecordError> {
    let f = fs::File::open(path).map_err(|e| io_record_error(&e))?;
    read_limited(f)
}

fn read_limited(r: impl Read) -> Result<Vec<u8>, RecordError> {
    let mut bytes = Vec::new();
    r.take(MAX_RECORD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_record_error(&e))?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(RecordError {
            field: "(file)".into(),
            message: format!("larger than the {MAX_RECORD_BYTES} byte limit"),
            id: None,
        });
    }
    Ok(bytes)
}

fn parse_named(name: &str, bytes: &[u8]) -> Result<Record, RecordError> {
    let format = Format::from_name(name).unwrap_or(Format::Json);
    parse_record(bytes, format)
}

fn read_zip(path: &Path) -> Result<Vec<SourceItem>, VulnError> {
    let zip_err = |e: zip::result::ZipError| VulnError::Zip {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let f = fs::File::open(path).map_err(|e| VulnError::io(path, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(zip_err)?;
    let prefix = path.display().to_string();
    let mut items = Vec::new();
    let mut batch: Vec<(String, Result<Vec<u8>, RecordError>)> = Vec::new();
    let mut batch_bytes = 0;
    for i in 0..archive.len() {
        let entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                items.push(SourceItem {
                    file: format!("{prefix}!#{i}"),
                    result: Err(RecordError {
                        field: "(zip entry)".into(),
                        message: e.to_string(),
                        id: None,
                    }),
                });
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        if Format::from_name(&name).is_none() {
            continue;
        }
        let bytes = read_limited(entry);
        batch_bytes += bytes.as_ref().map_or(0, Vec::len);
        batch.push((format!("{prefix}!{name}"), bytes));
        if batch.len() == ZIP_BATCH || batch_bytes >= ZIP_BATCH_BYTES {
            items.extend(parse_batch(std::mem::take(&mut batch)));
            batch_bytes = 0;
        }
    }
    items.extend(parse_batch(batch));
    Ok(items)
}

fn parse_batch(batch: Vec<(String, Result<Vec<u8>, RecordError>)>) -> Vec<SourceItem> {
    parse_parallel(
        batch,
        |(file, bytes): &(String, Result<Vec<u8>, RecordError>)| {
            let result = match bytes {
                Ok(b) => parse_named(file, b),
                Err(e) => Err(e.clone()),
            };
            SourceItem {
                file: file.clone(),
                result,
            }
        },
    )
}

/// Maps `f` over `inputs` on all cores, keeping the input order.
fn parse_parallel<T: Sync, F>(inputs: Vec<T>, f: F) -> Vec<SourceItem>
where
    F: Fn(&T) -> SourceItem + Sync,
{
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads <= 1 || inputs.len() < 64 {
        return inputs.iter().map(&f).collect();
    }
    let chunk = inputs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(inputs.len());
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                // Parsing does not panic on any input (it is fuzzed); a
                // panic here is a bug and is passed on, not hidden.
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}
