//! Persistence of the index behind a small trait, and the default
//! implementation: one file `osv-index.bin` in a database directory.
//!
//! File format, version 1 (all integers little-endian):
//!
//! ```text
//! offset  size  field
//!      0     8  magic "PVNOSVDB"
//!      8     4  format version (1)
//!     12     4  flags (0; readers refuse unknown flags)
//!     16     8  payload length in bytes
//!     24    32  SHA-256 of the payload
//!     56     …  payload
//! ```
//!
//! The payload is compact JSON: `{"sources":[…],"records":[[source_index,
//! record],…]}` with records in the crate's typed OSV model (unknown fields
//! and empty collections dropped). The header makes a truncated, corrupted
//! or foreign file an error that says so, and lets a later version change
//! the payload encoding. Saving writes a temporary file, syncs it and
//! renames it over the old one, so readers never see half a file.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::VulnError;
use crate::index::{Index, IndexEntry};
use crate::osv::Record;

/// Where an [`Index`] is kept. The CLI uses [`FileStore`]; the server may
/// keep records in its SQL store by implementing this trait.
pub trait IndexStore {
    /// The stored index, or `None` when nothing was stored yet.
    fn load(&self) -> Result<Option<Index>, VulnError>;
    /// Replaces the stored index.
    fn save(&self, index: &Index) -> Result<(), VulnError>;
}

const MAGIC: &[u8; 8] = b"PVNOSVDB";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 56;
/// The file name inside the database directory.
pub const INDEX_FILE: &str = "osv-index.bin";

/// The index as one file in a directory (`--db DIR`).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    sources: Vec<&'a str>,
    records: Vec<(usize, &'a Record)>,
}

#[derive(Deserialize)]
struct PayloadIn {
    sources: Vec<String>,
    records: Vec<(usize, Record)>,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore { dir: dir.into() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }

    /// Loads the index, failing with [`VulnError::MissingIndex`] when none
    /// has been imported (what `scan` wants).
    pub fn load_required(&self) -> Result<Index, VulnError> {
        self.load()?.ok_or_else(|| VulnError::MissingIndex {
            path: self.dir.clone(),
        })
    }
}

impl IndexStore for FileStore {
    fn load(&self) -> Result<Option<Index>, VulnError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VulnError::io(path, e)),
        };
        decode(&bytes)
            .map(Some)
            .map_err(|reason| VulnError::CorruptIndex { path, reason })
    }

    fn save(&self, index: &Index) -> Result<(), VulnError> {
        fs::create_dir_all(&self.dir).map_err(|e| VulnError::io(&self.dir, e))?;
        let bytes = encode(index)?;
        let path = self.path();
        let tmp = self
            .dir
            .join(format!(".{INDEX_FILE}.{}.tmp", std::process::id()));
        let write = |p: &Path| -> std::io::Result<()> {
            let mut f = fs::File::create(p)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        if let Err(e) = write(&tmp) {
            let _ = fs::remove_file(&tmp);
            return Err(VulnError::io(tmp, e));
        }
        fs::rename(&tmp, &path).map_err(|e| VulnError::io(path, e))
    }
}

/// Serialises an index in the file format above.
pub fn encode(index: &Index) -> Result<Vec<u8>, VulnError> {
    let mut source_ids: HashMap<&str, usize> = HashMap::new();
    let mut out = PayloadOut {
        sources: Vec::new(),
        records: Vec::with_capacity(index.len()),
    };
    for e in index.entries() {
        let next = out.sources.len();
        let sid = *source_ids.entry(e.source.as_str()).or_insert(next);
        if sid == next {
            out.sources.push(&e.source);
        }
        out.records.push((sid, &e.record));
    }
    let payload = serde_json::to_vec(&out).map_err(|e| VulnError::Render {
        message: e.to_string(),
    })?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(&payload));
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Parses and verifies a stored index.
pub fn decode(bytes: &[u8]) -> Result<Index, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!(
            "file is {} bytes, shorter than the header",
            bytes.len()
        ));
    }
    if &bytes[0..8] != MAGIC {
        return Err("not a provenant vulnerability index (bad magic)".into());
    }
    let u32_at = |o: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[o..o + 4]);
        u32::from_le_bytes(b)
    };
    let version = u32_at(8);
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this build reads version {FORMAT_VERSION} (re-import the database)"
        ));
    }
    let flags = u32_at(12);
    if flags != 0 {
        return Err(format!("unknown flags {flags:#x}"));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[16..24]);
    let len = u64::from_le_bytes(len);
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(format!(
            "payload is {} bytes, header says {len} (truncated or extended file)",
            payload.len()
        ));
    }
    if Sha256::digest(payload).as_slice() != &bytes[24..56] {
        return Err("payload checksum mismatch (corrupted file)".into());
    }
    let parsed: PayloadIn = serde_json::from_slice(payload).map_err(|e| format!("payload: {e}"))?;
    let mut entries = Vec::with_capacity(parsed.records.len());
    for (sid, record) in parsed.records {
        let source = parsed
            .sources
            .get(sid)
            .ok_or_else(|| format!("record {} names unknown source #{sid}", record.id))?
            .clone();
        entries.push(IndexEntry { source, record });
    }
    Ok(Index::from_entries(entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::SourceItem;
    use crate::osv::{Format, parse_record};

    fn small_index() -> Index {
        let mut idx = Index::new();
        let json = br#"{"id":"A-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1"],
            "affected":[{"package":{"ecosystem":"PyPI","name":"x"},"versions":["1.0"]}]}"#;
        idx.import_items(
            "s",
            vec![SourceItem {
                file: "a.json".into(),
                result: parse_record(json, Format::Json),
            }],
        );
        idx
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let idx = small_index();
        let bytes = encode(&idx).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.get("A-1"), idx.get("A-1"));
        assert_eq!(back.entries().next().unwrap().source, "s");

        let mut flipped = bytes.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        assert!(
            decode(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(decode(&bytes[..10]).unwrap_err().contains("header"));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(decode(&v2).unwrap_err().contains("version 2"));
        assert!(
            decode(&[b"PK\x03\x04".as_slice(), &[0u8; 80]].concat())
                .unwrap_err()
                .contains("magic")
        );
    }

    #[test]
    fn file_store_saves_atomically_and_reports_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("db"));
        assert!(store.load().unwrap().is_none());
        assert!(matches!(
            store.load_required(),
            Err(VulnError::MissingIndex { .. })
        ));
        store.save(&small_index()).unwrap();
        assert_eq!(store.load_required().unwrap().len(), 1);
        let names: Vec<_> = fs::read_dir(dir.path().join("db"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [INDEX_FILE]);
        fs::write(store.path(), b"garbage").unwrap();
        assert!(matches!(store.load(), Err(VulnError::CorruptIndex { .. })));
    }
}
