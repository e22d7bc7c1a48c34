//! The metadata store: one API over SQLite (embedded default) and PostgreSQL.
//!
//! Queries go through sqlx's `Any` driver so that both backends share one set of
//! statements; where SQL differs (full-text search, write transactions) the
//! method branches on [`Backend`]. Each backend has its own migrations
//! (`migrations/sqlite`, `migrations/postgres`). Timestamps are Unix milliseconds.
//!
//! A bound `LIMIT` is written `LIMIT CAST($n AS BIGINT)`: SQLite (3.51) treats
//! a bare `LIMIT $n` as a constant of the plan and re-prepares the statement
//! whenever the bound value changes, which cost every listing a full parse and
//! plan; the cast keeps one prepared statement for every limit.
//!
//! This file holds the [`Store`] itself (connecting, migrations, write
//! transactions); the rows and their decoding are in `meta/rows.rs`, and the
//! queries are one file per resource: `models`, `versions`, `publish`,
//! `search` (listings), `labels`, `aliases`, `attachments`, `trusted_keys`,
//! `tokens`, `blob_sizes`, `lineage`; `reader` holds SQLite's direct readers.

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::StoreError;

mod aliases;
mod attachments;
mod blob_sizes;
mod labels;
mod lineage;
mod models;
mod policy;
mod publish;
mod reader;
mod rows;
mod search;
mod tokens;
mod trusted_keys;
mod versions;

use labels::{labels_json, labels_text};
pub use lineage::{ImpactRow, LineageEdgeRow, MAX_LINEAGE_DEPTH, NewLineageEdge};
use models::model_name_in_txn;
pub use policy::{DecisionRow, NewDecision, PolicySetRow};
pub(crate) use rows::stored_digest;
use rows::{
    ATTACHMENT_COLUMNS, KEY_COLUMNS, LIST_COLUMNS, ListedVersion, MODEL_COLUMNS, VERSION_COLUMNS,
    alias_event, attachment_from_row, key_from_row, model_from_row, version_from_row,
};
pub use rows::{
    AliasEvent, AliasRow, Annotations, AttachmentRow, FileRow, LabelFilter, ModelKey, ModelRow,
    NewAttachment, NewVersion, Page, TrustedKeyRow, VersionRow,
};
pub use tokens::{
    AccessEventRow, GrantRow, NamespaceRow, NewToken, PrincipalRow, RoleBindingRow, TokenRow,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Which database sits behind a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The metadata store.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite allows one writer at a time; queueing writers here, in order,
    /// is far cheaper than letting them spin in SQLite's busy handler.
    writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// Group-commit queue for publishes (SQLite).
    batcher: Option<tokio::sync::mpsc::UnboundedSender<PublishJob>>,
    /// Listings read on the calling thread (SQLite; see `meta/reader.rs`).
    readers: Option<std::sync::Arc<reader::Readers>>,
    /// The registry's log-entry schema (`log.rs`), shared by every clone.
    pub(crate) encoder: crate::log::EncoderSlot,
    /// Namespace ids by name, as read: namespaces are never renamed or
    /// deleted, so an id once read stays true (a name not found is asked
    /// again next time: it may have been created since).
    namespace_ids: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
}

type PublishJob = (
    NewVersion,
    tokio::sync::oneshot::Sender<Result<(VersionRow, bool), StoreError>>,
);

/// A write transaction and, on SQLite, the in-process writer slot it holds.
pub(crate) type WriteTxn = (
    Transaction<'static, Any>,
    Option<tokio::sync::OwnedMutexGuard<()>>,
);

/// Copies committed WAL frames into the SQLite database file every 200 ms
/// (a passive checkpoint: readers and the writer carry on), so that commits
/// do not stop to checkpoint (and fsync) on the publish path. Ends when the
/// pool closes.
async fn checkpointer(pool: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint");
        }
    }
}

impl Store {
    /// Connect to `sqlite://…` or `postgres://…` and apply migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Ok(Self {
                pool,
                backend: Backend::Postgres,
                writer: None,
                batcher: None,
                readers: None,
                encoder: Default::default(),
                namespace_ids: Default::default(),
            })
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            Self::open_sqlite(Path::new(path)).await
        } else {
            Err(StoreError::DatabaseUrl {
                url: redact(url),
                reason: "expected sqlite://PATH or postgres://…".into(),
            })
        }
    }

    /// Open (creating if missing) an SQLite database file in WAL mode.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            // A connection to a local file does not go stale: no ping (a
            // round trip to its worker thread) before each use.
            .test_before_acquire(false)
            // Reads map the database file (up to 2 GiB) rather than copy each
            // page into every connection's cache: reads touch pages spread
            // over the whole versions table (listings map it too, through
            // their own connections: `meta/reader.rs`). Writes still go
            // through the WAL.
            // Checkpoints run in the background (below); a commit only runs
            // one itself if the WAL reaches 128 MiB.
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                         PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; \
                         PRAGMA wal_autocheckpoint = 32768; PRAGMA mmap_size = 2147483648;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        let store = Self {
            pool,
            backend: Backend::Sqlite,
            writer: Some(Default::default()),
            batcher: None,
            readers: Some(std::sync::Arc::new(reader::Readers::open(path)?)),
            encoder: Default::default(),
            namespace_ids: Default::default(),
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(store.clone().publish_writer(rx));
        tokio::spawn(checkpointer(store.pool.clone()));
        Ok(Self {
            batcher: Some(tx),
            ..store
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The in-process writer slot (SQLite only), for single-statement writes.
    pub(crate) async fn writer_slot(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(w) => Some(w.clone().lock_owned().await),
            None => None,
        }
    }

    /// Begin a write transaction. On SQLite, writers queue in process for the
    /// one writer slot, then take the database lock up front (`BEGIN
    /// IMMEDIATE`) so that a writer in another process waits on the busy
    /// timeout instead of failing on lock upgrade.
    pub(crate) async fn begin_write(&self) -> Result<WriteTxn, StoreError> {
        Ok(match (self.backend, &self.writer) {
            (Backend::Sqlite, Some(w)) => {
                let guard = w.clone().lock_owned().await;
                (self.pool.begin_with("BEGIN IMMEDIATE").await?, Some(guard))
            }
            (Backend::Sqlite, None) => (self.pool.begin_with("BEGIN IMMEDIATE").await?, None),
            (Backend::Postgres, _) => (self.pool.begin().await?, None),
        })
    }
}

enum Bind {
    I(i64),
    S(String),
}

impl Store {
    /// The ids of the namespaces named that exist (from the cache, asking
    /// the database only for names not seen yet), sorted.
    pub(crate) async fn namespace_ids(&self, names: &[String]) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(names.len());
        let mut unknown: Vec<&str> = Vec::new();
        {
            let cache = self
                .namespace_ids
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for n in names {
                match cache.get(n) {
                    Some(id) => ids.push(*id),
                    None => unknown.push(n),
                }
            }
        }
        for chunk in unknown.chunks(500) {
            let mut binds = Vec::new();
            let list = bind_list(&mut binds, chunk);
            let sql = format!("SELECT id, name FROM namespaces WHERE name IN ({list})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                if let Bind::S(s) = b {
                    q = q.bind(s.as_str());
                }
            }
            let rows = q.fetch_all(&self.pool).await?;
            let mut cache = self
                .namespace_ids
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for r in &rows {
                let id: i64 = sqlx::Row::try_get(r, 0)?;
                let name: String = sqlx::Row::try_get(r, 1)?;
                cache.insert(name, id);
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

/// Appends `names` to `binds` and returns their placeholders (`$4, $5`),
/// for an `IN (…)` list.
fn bind_list<S: AsRef<str>>(binds: &mut Vec<Bind>, names: &[S]) -> String {
    let mut list = Vec::with_capacity(names.len());
    for n in names {
        binds.push(Bind::S(n.as_ref().to_owned()));
        list.push(format!("${}", binds.len()));
    }
    list.join(", ")
}

/// Hide a password in a database URL before it reaches an error message.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
