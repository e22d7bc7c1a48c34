//! Listings of the embedded (SQLite) database, read on the calling thread.
//!
//! sqlx gives every SQLite connection its own worker thread: a query is a
//! message to that thread and a wake-up back, which on a small machine cost
//! more than the listing itself (a page of versions is a few index seeks in
//! a memory-mapped file, tens of microseconds). Listings therefore read
//! through a small pool of plain connections to the same file, on the thread
//! that asks, with their prepared statements cached per connection.
//!
//! These connections only read (`query_only`): every write still goes through
//! the sqlx pool and its in-process writer queue. In WAL mode each statement
//! reads the latest committed snapshot, so a listing sees every write that
//! has returned. The pool holds at most [`MAX_IDLE`] connections; a caller
//! that finds none idle opens another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags};

use super::rows::stored_digest;
use super::{Annotations, Bind, ModelRow, VersionRow};
use crate::StoreError;

/// Idle connections kept for reuse (about one per thread that reads).
const MAX_IDLE: usize = 8;
/// Prepared statements cached per connection (listings vary by filter).
const STATEMENT_CACHE: usize = 64;

/// A pool of read-only connections to one SQLite database file.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Readers of `path`, which must already exist (the sqlx pool created
    /// and migrated it). One connection is opened now, so that a bad path
    /// fails here rather than at the first listing.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let readers = Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        let first = readers.connect()?;
        readers.release(first);
        Ok(readers)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_error(&self.path, &e))?;
        // Same mapping and cache as the sqlx connections; `query_only` makes
        // any write through this connection an error.
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000; PRAGMA query_only = 1; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -8192; PRAGMA mmap_size = 2147483648;",
        )
        .map_err(|e| sqlite_error(&self.path, &e))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn release(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Run `f` with a connection of the pool, on this thread.
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match conn {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = f(&conn);
        self.release(conn);
        out
    }

    /// Run `sql` with its `$1…$n` parameters `binds` and map each row.
    fn rows<T>(
        &self,
        sql: &str,
        binds: &[Bind],
        mut map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<Result<T, StoreError>>,
    ) -> Result<Vec<T>, StoreError> {
        self.with(|conn| {
            let db = |e: rusqlite::Error| sqlite_error(&self.path, &e);
            let mut st = conn.prepare_cached(sql).map_err(db)?;
            for (i, b) in binds.iter().enumerate() {
                let name = format!("${}", i + 1);
                let Some(at) = st.parameter_index(&name).map_err(db)? else {
                    continue; // not used by this statement
                };
                match b {
                    Bind::I(v) => st.raw_bind_parameter(at, v),
                    Bind::S(v) => st.raw_bind_parameter(at, v.as_str()),
                }
                .map_err(db)?;
            }
            let mut rows = st.raw_query();
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(db)? {
                out.push(map(r).map_err(db)??);
            }
            Ok(out)
        })
    }

    /// A page of versions: `sql` selects [`super::LIST_COLUMNS`] and the
    /// version's aliases (a JSON array), one row per version, in order.
    pub(crate) fn versions(
        &self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Vec<VersionRow>, StoreError> {
        self.rows(sql, binds, listed_version)
    }

    /// A page of models: `sql` selects [`super::MODEL_COLUMNS`].
    pub(crate) fn models(&self, sql: &str, binds: &[Bind]) -> Result<Vec<ModelRow>, StoreError> {
        self.rows(sql, binds, |r| {
            Ok(Ok(ModelRow {
                id: r.get(0)?,
                namespace: r.get(1)?,
                name: r.get(2)?,
                full_name: r.get(3)?,
                description: r.get(4)?,
                version_count: r.get(5)?,
                created_at: r.get(6)?,
                created_by: r.get(7)?,
            }))
        })
    }
}

/// One listing row: [`super::LIST_COLUMNS`], then the aliases.
fn listed_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<VersionRow, StoreError>> {
    let id: i64 = r.get(0)?;
    let labels: Option<String> = r.get(16)?;
    let aliases: Option<String> = r.get(17)?;
    let annotations = (|| {
        let labels = match labels.as_deref() {
            Some(s) if !s.is_empty() => serde_json::from_str::<BTreeMap<String, String>>(s)?,
            _ => BTreeMap::new(),
        };
        let mut aliases = match aliases.as_deref() {
            Some(s) if !s.is_empty() => serde_json::from_str::<Vec<String>>(s)?,
            _ => Vec::new(),
        };
        aliases.sort_unstable();
        Ok::<_, serde_json::Error>(Annotations { labels, aliases })
    })();
    let annotations = match annotations {
        Ok(a) => a,
        Err(e) => {
            return Ok(Err(StoreError::Corrupt(format!(
                "labels or aliases of version id {id}: {e}"
            ))));
        }
    };
    let digest: String = r.get(4)?;
    let config_digest: String = r.get(5)?;
    let metadata_digest: String = r.get(7)?;
    let digests = (|| {
        Ok::<_, StoreError>((
            stored_digest("versions", "digest", &digest)?,
            stored_digest("versions", "config_digest", &config_digest)?,
            stored_digest("versions", "metadata_digest", &metadata_digest)?,
        ))
    })();
    let (digest, config_digest, metadata_digest) = match digests {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(VersionRow {
        id,
        model_id: r.get(1)?,
        model: r.get(2)?,
        number: r.get(3)?,
        digest,
        manifest: Vec::new(),
        config: Vec::new(),
        config_digest,
        metadata: r.get(6)?,
        metadata_digest,
        size: r.get(8)?,
        file_count: r.get(9)?,
        state: r.get(10)?,
        state_reason: r.get(11)?,
        state_changed_at: r.get(12)?,
        state_changed_by: r.get(13)?,
        created_at: r.get(14)?,
        created_by: r.get(15)?,
        annotations: Some(annotations),
    }))
}

fn sqlite_error(path: &Path, e: &rusqlite::Error) -> StoreError {
    StoreError::Sqlite(format!("{}: {e}", path.display()))
}
