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

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Row, Transaction};

use crate::StoreError;
use crate::log::{LogRecord, LogTarget, entry_type};

mod lineage;
mod publish;
mod reader;
pub use lineage::{ImpactRow, LineageEdgeRow, MAX_LINEAGE_DEPTH, NewLineageEdge};

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
}

type PublishJob = (
    NewVersion,
    tokio::sync::oneshot::Sender<Result<(VersionRow, bool), StoreError>>,
);

/// A write transaction and, on SQLite, the in-process writer slot it holds.
type WriteTxn = (
    Transaction<'static, Any>,
    Option<tokio::sync::OwnedMutexGuard<()>>,
);

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ModelRow {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub full_name: String,
    pub description: String,
    pub version_count: i64,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    pub id: i64,
    pub model_id: i64,
    pub model: String,
    pub number: i64,
    pub digest: String,
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub metadata: String,
    pub metadata_digest: String,
    pub size: i64,
    pub file_count: i64,
    pub state: String,
    pub state_reason: Option<String>,
    pub state_changed_at: Option<i64>,
    pub state_changed_by: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    /// Labels and aliases, when the query fetched them with the row (listings).
    pub annotations: Option<Annotations>,
}

/// A version's labels and the aliases pointing at it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    pub labels: BTreeMap<String, String>,
    /// Sorted by name.
    pub aliases: Vec<String>,
}

/// Which model a listing is about.
#[derive(Clone, Copy, Debug)]
pub enum ModelKey<'a> {
    Id(i64),
    /// `namespace/name`; resolved inside the listing query.
    Name(&'a str),
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FileRow {
    pub path: String,
    pub digest: String,
    pub size: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRow {
    pub name: String,
    pub version_id: i64,
    pub number: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasEvent {
    pub id: i64,
    pub alias: String,
    pub number: i64,
    pub previous_number: Option<i64>,
    pub moved_at: i64,
    pub moved_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub hash: String,
    pub role: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `key = value` filter on version labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelFilter {
    pub key: String,
    pub value: String,
}

/// One page of results and the cursor for the next page, if any.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

/// Everything needed to publish a version, prepared by the registry.
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub namespace: String,
    pub model_name: String,
    pub description: String,
    pub digest: String,
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub metadata: String,
    pub metadata_digest: String,
    pub files: Vec<FileRow>,
    pub labels: BTreeMap<String, String>,
    /// Text indexed for full-text search (names, description, metadata values).
    pub search_text: String,
    pub created_by: String,
}

/// A signed object attached to a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRow {
    pub id: i64,
    pub version_id: i64,
    pub kind: String,
    pub media_type: String,
    pub digest: String,
    pub body: Vec<u8>,
    pub signer: String,
    pub fingerprint: String,
    pub created_at: i64,
    pub created_by: String,
    /// in-toto predicate type for attestations; empty for OMS signatures.
    pub predicate_type: String,
    /// Short JSON summary of an attestation (format, counts, ...); `{}` when none.
    pub summary: String,
}

/// An attachment to store (see [`Store::attachment_insert`]).
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub version_id: i64,
    pub kind: String,
    pub media_type: String,
    pub digest: String,
    pub body: Vec<u8>,
    pub signer: String,
    pub fingerprint: String,
    pub created_by: String,
    pub predicate_type: String,
    pub summary: String,
}

/// A key a namespace trusts (or trusted, when `removed_at` is set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKeyRow {
    pub id: i64,
    pub namespace: String,
    pub fingerprint: String,
    pub public_key: String,
    pub comment: String,
    pub added_at: i64,
    pub added_by: String,
    pub removed_at: Option<i64>,
    pub removed_by: Option<String>,
}

const ATTACHMENT_COLUMNS: &str = "id, version_id, kind, media_type, digest, body, signer, fingerprint, created_at, created_by, predicate_type, summary";

fn attachment_from_row(r: &AnyRow) -> Result<AttachmentRow, sqlx::Error> {
    Ok(AttachmentRow {
        id: r.try_get(0)?,
        version_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        media_type: r.try_get(3)?,
        digest: r.try_get(4)?,
        body: r.try_get(5)?,
        signer: r.try_get(6)?,
        fingerprint: r.try_get(7)?,
        created_at: r.try_get(8)?,
        created_by: r.try_get(9)?,
        predicate_type: r.try_get(10)?,
        summary: r.try_get(11)?,
    })
}

const KEY_COLUMNS: &str =
    "id, namespace, fingerprint, public_key, comment, added_at, added_by, removed_at, removed_by";

fn key_from_row(r: &AnyRow) -> Result<TrustedKeyRow, sqlx::Error> {
    Ok(TrustedKeyRow {
        id: r.try_get(0)?,
        namespace: r.try_get(1)?,
        fingerprint: r.try_get(2)?,
        public_key: r.try_get(3)?,
        comment: r.try_get(4)?,
        added_at: r.try_get(5)?,
        added_by: r.try_get(6)?,
        removed_at: r.try_get(7)?,
        removed_by: r.try_get(8)?,
    })
}

const VERSION_COLUMNS: &str = "v.id, v.model_id, m.full_name, v.number, v.digest, v.manifest, v.config, \
     v.config_digest, v.metadata, v.metadata_digest, v.size, v.file_count, v.state, v.state_reason, \
     v.state_changed_at, v.state_changed_by, v.created_at, v.created_by";

/// Map a row of [`VERSION_COLUMNS`].
fn version_from_row(row: &AnyRow) -> Result<VersionRow, sqlx::Error> {
    Ok(VersionRow {
        id: row.try_get(0)?,
        model_id: row.try_get(1)?,
        model: row.try_get(2)?,
        number: row.try_get(3)?,
        digest: row.try_get(4)?,
        manifest: row.try_get(5)?,
        config: row.try_get(6)?,
        config_digest: row.try_get(7)?,
        metadata: row.try_get(8)?,
        metadata_digest: row.try_get(9)?,
        size: row.try_get(10)?,
        file_count: row.try_get(11)?,
        state: row.try_get(12)?,
        state_reason: row.try_get(13)?,
        state_changed_at: row.try_get(14)?,
        state_changed_by: row.try_get(15)?,
        created_at: row.try_get(16)?,
        created_by: row.try_get(17)?,
        annotations: None,
    })
}

/// The columns of a listing page, without the manifest and config bytes
/// (callers of [`Store::version_list`] get them empty; single reads carry
/// them), with each version's labels (the row's JSON object); the page adds
/// its aliases (JSON array, by name).
const LIST_COLUMNS: &str = "v.id, v.model_id, m.full_name, v.number, v.digest, \
     v.config_digest, v.metadata, v.metadata_digest, v.size, v.file_count, v.state, v.state_reason, \
     v.state_changed_at, v.state_changed_by, v.created_at, v.created_by, v.labels";

/// A page of versions as one query returning one value (PostgreSQL): a JSON
/// array with an array of [`LIST_COLUMNS`] per version, newest first. One
/// value crosses from the database instead of a row per version (each a
/// message from the driver and a copy of every column). SQLite reads its
/// listings directly, a row per version (`meta/reader.rs`).
fn list_page_sql(from: &str, where_clause: &str, id_col: &str, lim: &str) -> String {
    let page = format!(
        "SELECT {LIST_COLUMNS}, {id_col} AS page_key FROM {from} {where_clause} \
         ORDER BY {id_col} DESC LIMIT CAST({lim} AS BIGINT)"
    );
    format!(
        "SELECT json_agg(json_build_array(p.id, p.model_id, p.full_name, p.number, p.digest, \
         p.config_digest, p.metadata, p.metadata_digest, p.size, p.file_count, p.state, \
         p.state_reason, p.state_changed_at, p.state_changed_by, p.created_at, p.created_by, \
         p.labels::json, \
         (SELECT json_agg(name ORDER BY name) FROM aliases WHERE version_id = p.id)) \
         ORDER BY p.page_key DESC)::text FROM ({page}) p"
    )
}

/// One version of a listing page, decoded from its JSON array.
#[derive(serde::Deserialize)]
struct ListedVersion {
    id: i64,
    model_id: i64,
    model: String,
    number: i64,
    digest: String,
    config_digest: String,
    metadata: String,
    metadata_digest: String,
    size: i64,
    file_count: i64,
    state: String,
    state_reason: Option<String>,
    state_changed_at: Option<i64>,
    state_changed_by: Option<String>,
    created_at: i64,
    created_by: String,
    labels: Option<BTreeMap<String, String>>,
    aliases: Option<Vec<String>>,
}

impl From<ListedVersion> for VersionRow {
    fn from(v: ListedVersion) -> Self {
        let mut aliases = v.aliases.unwrap_or_default();
        aliases.sort_unstable();
        VersionRow {
            id: v.id,
            model_id: v.model_id,
            model: v.model,
            number: v.number,
            digest: v.digest,
            manifest: Vec::new(),
            config: Vec::new(),
            config_digest: v.config_digest,
            metadata: v.metadata,
            metadata_digest: v.metadata_digest,
            size: v.size,
            file_count: v.file_count,
            state: v.state,
            state_reason: v.state_reason,
            state_changed_at: v.state_changed_at,
            state_changed_by: v.state_changed_by,
            created_at: v.created_at,
            created_by: v.created_by,
            annotations: Some(Annotations {
                labels: v.labels.unwrap_or_default(),
                aliases,
            }),
        }
    }
}

const MODEL_COLUMNS: &str =
    "m.id, n.name, m.name, m.full_name, m.description, m.next_number, m.created_at, m.created_by";

fn model_from_row(row: &AnyRow) -> Result<ModelRow, sqlx::Error> {
    Ok(ModelRow {
        id: row.try_get(0)?,
        namespace: row.try_get(1)?,
        name: row.try_get(2)?,
        full_name: row.try_get(3)?,
        description: row.try_get(4)?,
        version_count: row.try_get(5)?,
        created_at: row.try_get(6)?,
        created_by: row.try_get(7)?,
    })
}

/// Labels as the JSON object kept on the version row (keys sorted).
fn labels_json(labels: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(labels).map_err(|e| StoreError::Corrupt(format!("labels: {e}")))
}

/// Render label pairs as indexed search text.
fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Split a free-text query into indexable words (letters, digits, `_`).
fn query_terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .take(16)
        .map(str::to_lowercase)
        .collect()
}

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

    // ---- tokens -------------------------------------------------------------

    pub async fn token_insert(
        &self,
        name: &str,
        hash: &str,
        role: &str,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query(
            "INSERT INTO tokens (name, hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(hash)
        .bind(role)
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(id)
    }

    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, hash, role, expires_at, revoked_at FROM tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(TokenRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                hash: r.try_get(2)?,
                role: r.try_get(3)?,
                expires_at: r.try_get(4)?,
                revoked_at: r.try_get(5)?,
            })
        })
        .transpose()
        .map_err(StoreError::Database)
    }

    pub async fn token_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM tokens")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    // ---- models ---------------------------------------------------------------

    pub async fn model_get(&self, full_name: &str) -> Result<Option<ModelRow>, StoreError> {
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM models m JOIN namespaces n ON n.id = m.namespace_id \
             WHERE m.full_name = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(full_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(model_from_row).transpose()?)
    }

    /// Models whose full name starts with `prefix`, in name order, after `after`.
    pub async fn model_list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ModelRow>, StoreError> {
        // A half-open range on the unique index instead of LIKE, which would
        // need escaping and, on SQLite, a case-insensitive index.
        let upper = format!("{prefix}\u{10FFFF}");
        let lower = after.map_or_else(|| prefix.to_owned(), str::to_owned);
        let op = if after.is_some() { ">" } else { ">=" };
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM models m JOIN namespaces n ON n.id = m.namespace_id \
             WHERE m.full_name {op} $1 AND m.full_name < $2 ORDER BY m.full_name LIMIT CAST($3 AS BIGINT)"
        );
        if let Some(readers) = &self.readers {
            return readers.models(&sql, &[Bind::S(lower), Bind::S(upper), Bind::I(limit)]);
        }
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(lower)
            .bind(upper)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(model_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn model_set_description(
        &self,
        model_id: i64,
        description: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE models SET description = $1 WHERE id = $2")
            .bind(description)
            .bind(model_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- versions (publishing is in `publish.rs`) -------------------------------

    async fn version_where(
        &self,
        clause: &str,
        a: i64,
        b: Option<&str>,
    ) -> Result<Option<VersionRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id WHERE {clause}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(a);
        if let Some(b) = b {
            q = q.bind(b);
        }
        let row = q.fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(version_from_row).transpose()?)
    }

    pub async fn version_by_id(&self, id: i64) -> Result<Option<VersionRow>, StoreError> {
        self.version_where("v.id = $1", id, None).await
    }

    pub async fn version_by_number(
        &self,
        model_id: i64,
        number: i64,
    ) -> Result<Option<VersionRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id \
             WHERE v.model_id = $1 AND v.number = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(model_id)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(version_from_row).transpose()?)
    }

    pub async fn version_by_digest(
        &self,
        model_id: i64,
        digest: &str,
    ) -> Result<Option<VersionRow>, StoreError> {
        self.version_where("v.model_id = $1 AND v.digest = $2", model_id, Some(digest))
            .await
    }

    /// The versions of a model whose digest starts with `prefix` (`sha256:`
    /// and lowercase hex digits only: no LIKE wildcards), by number, at most
    /// `limit` of them.
    pub async fn versions_by_digest_prefix(
        &self,
        model_id: i64,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<VersionRow>, StoreError> {
        if !prefix.strip_prefix("sha256:").is_some_and(|h| {
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }) {
            return Err(StoreError::InvalidDigest {
                value: prefix.to_owned(),
                reason: "a digest prefix is sha256: and lowercase hex digits",
            });
        }
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id \
             WHERE v.model_id = $1 AND v.digest LIKE $2 ORDER BY v.number LIMIT CAST($3 AS BIGINT)"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(model_id)
            .bind(format!("{prefix}%"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(version_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn version_by_alias(
        &self,
        model_id: i64,
        alias: &str,
    ) -> Result<Option<VersionRow>, StoreError> {
        self.version_where(
            "v.id = (SELECT a.version_id FROM aliases a WHERE a.model_id = $1 AND a.name = $2)",
            model_id,
            Some(alias),
        )
        .await
    }

    /// The highest-numbered version of a model.
    pub async fn version_latest(&self, model_id: i64) -> Result<Option<VersionRow>, StoreError> {
        self.version_where(
            "v.model_id = $1 AND v.number = (SELECT MAX(number) FROM versions WHERE model_id = $1)",
            model_id,
            None,
        )
        .await
    }

    pub async fn version_files(&self, version_id: i64) -> Result<Vec<FileRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT path, digest, size FROM version_files WHERE version_id = $1 ORDER BY path",
        )
        .bind(version_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FileRow {
                    path: r.try_get(0)?,
                    digest: r.try_get(1)?,
                    size: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Database)
    }

    // ---- blob sizes -----------------------------------------------------------

    /// Record a blob the store now holds (an upload committed). Recording it
    /// again is a no-op.
    pub async fn blob_size_record(&self, digest: &str, size: u64) -> Result<(), StoreError> {
        let size = i64::try_from(size)
            .map_err(|_| StoreError::Corrupt(format!("blob {digest} is larger than 2^63 bytes")))?;
        let _writer = self.writer_slot().await;
        sqlx::query(
            "INSERT INTO blob_sizes (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(size)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Which of `sizes` the store holds a blob of (ascending, each once).
    pub async fn blob_sizes_held(&self, sizes: &[u64]) -> Result<Vec<u64>, StoreError> {
        let mut wanted: Vec<i64> = sizes
            .iter()
            .filter_map(|s| i64::try_from(*s).ok())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut held = Vec::new();
        // Integers only, written into the statement: no injection, and one
        // round trip per 500 sizes.
        for part in wanted.chunks(500) {
            let list = part
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!("SELECT DISTINCT size FROM blob_sizes WHERE size IN ({list})");
            for r in sqlx::query(AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await?
            {
                let size: i64 = r.try_get(0)?;
                held.push(u64::try_from(size).map_err(|_| {
                    StoreError::Corrupt(format!("blob_sizes holds a negative size {size}"))
                })?);
            }
        }
        held.sort_unstable();
        Ok(held)
    }

    pub async fn version_labels(
        &self,
        version_id: i64,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows = sqlx::query("SELECT key, value FROM version_labels WHERE version_id = $1")
            .bind(version_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Database)
    }

    /// Labels and current aliases of many versions at once (for listing pages).
    pub async fn version_annotations(
        &self,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, (BTreeMap<String, String>, Vec<String>)>, StoreError> {
        let mut out: BTreeMap<i64, (BTreeMap<String, String>, Vec<String>)> =
            ids.iter().map(|id| (*id, Default::default())).collect();
        for chunk in ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT version_id, key, value FROM version_labels WHERE version_id IN ({list})"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: i64 = r.try_get(0)?;
                if let Some(e) = out.get_mut(&id) {
                    e.0.insert(r.try_get(1)?, r.try_get(2)?);
                }
            }
            let sql = format!(
                "SELECT version_id, name FROM aliases WHERE version_id IN ({list}) ORDER BY name"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: i64 = r.try_get(0)?;
                if let Some(e) = out.get_mut(&id) {
                    e.1.push(r.try_get(1)?);
                }
            }
        }
        Ok(out)
    }

    /// Versions, newest first, optionally of one model, filtered by labels,
    /// state and a full-text query; `before` is the cursor (a version id).
    pub async fn version_list(
        &self,
        model: Option<ModelKey<'_>>,
        labels: &[LabelFilter],
        state: Option<&str>,
        text: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Page<VersionRow>, StoreError> {
        let mut binds: Vec<Bind> = Vec::new();
        let next = |b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            format!("${}", binds.len())
        };
        // Drive the scan from the most selective index available: the first
        // label's, else the model's versions (model_id, id).
        let mut from = "versions v JOIN models m ON m.id = v.model_id".to_owned();
        let mut conds: Vec<String> = Vec::new();
        let mut rest = labels;
        let mut id_col = "v.id";
        let model_expr = match model {
            Some(ModelKey::Id(mid)) => Some(next(Bind::I(mid), &mut binds)),
            Some(ModelKey::Name(name)) => {
                let p = next(Bind::S(name.to_owned()), &mut binds);
                Some(format!("(SELECT id FROM models WHERE full_name = {p})"))
            }
            None => None,
        };
        if let Some((first, others)) = labels.split_first() {
            // The first label's index: (model_id, key, value, version_id)
            // within a model, else (key, value, version_id).
            from = "version_labels l0 JOIN versions v ON v.id = l0.version_id JOIN models m ON m.id = v.model_id"
                .to_owned();
            if let Some(m) = &model_expr {
                conds.push(format!("l0.model_id = {m}"));
            }
            let k = next(Bind::S(first.key.clone()), &mut binds);
            let val = next(Bind::S(first.value.clone()), &mut binds);
            conds.push(format!("l0.key = {k} AND l0.value = {val}"));
            rest = others;
            id_col = "l0.version_id";
        } else if let Some(m) = &model_expr {
            conds.push(format!("v.model_id = {m}"));
        }
        for l in rest {
            let k = next(Bind::S(l.key.clone()), &mut binds);
            let val = next(Bind::S(l.value.clone()), &mut binds);
            conds.push(format!(
                "EXISTS (SELECT 1 FROM version_labels l WHERE l.version_id = v.id AND l.key = {k} AND l.value = {val})"
            ));
        }
        if let Some(state) = state {
            let p = next(Bind::S(state.to_owned()), &mut binds);
            conds.push(format!("v.state = {p}"));
        }
        if let Some(text) = text {
            let terms = query_terms(text);
            if !terms.is_empty() {
                match self.backend {
                    Backend::Sqlite => {
                        let q = terms
                            .iter()
                            .map(|t| format!("\"{t}\"*"))
                            .collect::<Vec<_>>()
                            .join(" AND ");
                        let p = next(Bind::S(q), &mut binds);
                        conds.push(format!(
                            "v.id IN (SELECT rowid FROM version_fts WHERE version_fts MATCH {p})"
                        ));
                    }
                    Backend::Postgres => {
                        let q = terms
                            .iter()
                            .map(|t| format!("{t}:*"))
                            .collect::<Vec<_>>()
                            .join(" & ");
                        let p = next(Bind::S(q), &mut binds);
                        conds.push(format!(
                            "v.id IN (SELECT version_id FROM version_search WHERE tsv @@ to_tsquery('simple', {p}))"
                        ));
                    }
                }
            }
        }
        if let Some(before) = before {
            let p = next(Bind::I(before), &mut binds);
            conds.push(format!("{id_col} < {p}"));
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let lim = next(Bind::I(limit + 1), &mut binds);
        let mut items: Vec<VersionRow> = if let Some(readers) = &self.readers {
            readers.versions(
                &format!(
                    "SELECT {LIST_COLUMNS}, \
                     (SELECT json_group_array(name) FROM aliases WHERE version_id = v.id) \
                     FROM {from} {where_clause} ORDER BY {id_col} DESC LIMIT CAST({lim} AS BIGINT)"
                ),
                &binds,
            )?
        } else {
            let sql = list_page_sql(&from, &where_clause, id_col, &lim);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in &binds {
                q = match b {
                    Bind::I(i) => q.bind(*i),
                    Bind::S(s) => q.bind(s.as_str()),
                };
            }
            let page: Option<String> = q.fetch_one(&self.pool).await?.try_get(0)?;
            match page {
                Some(json) => serde_json::from_str::<Vec<ListedVersion>>(&json)
                    .map_err(|e| StoreError::Corrupt(format!("listing page: {e}")))?
                    .into_iter()
                    .map(VersionRow::from)
                    .collect(),
                None => Vec::new(),
            }
        };
        let next = if items.len() as i64 > limit {
            items.truncate(usize::try_from(limit).unwrap_or(0));
            items.last().map(|v| v.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Set and remove labels of a version; returns the labels after the change.
    pub async fn version_labels_update(
        &self,
        version_id: i64,
        set: &BTreeMap<String, String>,
        remove: &[String],
        by: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        for k in remove {
            sqlx::query("DELETE FROM version_labels WHERE version_id = $1 AND key = $2")
                .bind(version_id)
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
        for (k, v) in set {
            sqlx::query(
                "INSERT INTO version_labels (version_id, model_id, key, value) \
                 SELECT v.id, v.model_id, $2, $3 FROM versions v WHERE v.id = $1 \
                 ON CONFLICT (version_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(version_id)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        let rows = sqlx::query("SELECT key, value FROM version_labels WHERE version_id = $1")
            .bind(version_id)
            .fetch_all(&mut *tx)
            .await?;
        let labels = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<BTreeMap<String, String>, sqlx::Error>>()?;
        sqlx::query("UPDATE versions SET labels = $1 WHERE id = $2")
            .bind(labels_json(&labels)?)
            .bind(version_id)
            .execute(&mut *tx)
            .await?;
        let sql = match self.backend {
            Backend::Sqlite => "UPDATE version_fts SET labels = $1 WHERE rowid = $2",
            Backend::Postgres => "UPDATE version_search SET labels = $1 WHERE version_id = $2",
        };
        sqlx::query(sql)
            .bind(labels_text(&labels))
            .bind(version_id)
            .execute(&mut *tx)
            .await?;
        Store::log_record_in_txn(
            &mut tx,
            LogRecord::new(
                entry_type::LABELS_CHANGED,
                ("versions", version_id),
                by,
                now_millis(),
                LogTarget::Version(version_id),
                serde_json::json!({"set": set, "remove": remove}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(labels)
    }

    /// Move a version to `to` if it is currently in one of `from`. Returns
    /// false (changing nothing) when the version is in another state.
    pub async fn version_state_set(
        &self,
        version_id: i64,
        from: &[&str],
        to: &str,
        reason: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 6)).collect();
        // No alias may point at an archived version: checked in the update itself.
        let unaliased = if to == "archived" {
            " AND NOT EXISTS (SELECT 1 FROM aliases WHERE aliases.version_id = $5)"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE versions SET state = $1, state_reason = $2, state_changed_at = $3, state_changed_by = $4 \
             WHERE id = $5 AND state IN ({}){unaliased}",
            placeholders.join(", ")
        );
        let now = now_millis();
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(to)
            .bind(reason)
            .bind(now)
            .bind(by)
            .bind(version_id);
        for f in from {
            q = q.bind(*f);
        }
        let (mut tx, _writer) = self.begin_write().await?;
        if to == "archived" && self.backend == Backend::Postgres {
            // Lock the row first, as alias_move does, so that the alias check
            // below (a statement of its own, seeing every commit before the
            // lock) and a concurrent alias move cannot interleave.
            sqlx::query("SELECT id FROM versions WHERE id = $1 FOR UPDATE")
                .bind(version_id)
                .execute(&mut *tx)
                .await?;
            let aliased = sqlx::query("SELECT 1 FROM aliases WHERE version_id = $1 LIMIT 1")
                .bind(version_id)
                .fetch_optional(&mut *tx)
                .await?;
            if aliased.is_some() {
                return Ok(false);
            }
        }
        if q.execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        let kind = match to {
            "deprecated" => entry_type::VERSION_DEPRECATED,
            "archived" => entry_type::VERSION_ARCHIVED,
            _ => entry_type::VERSION_STATE_CHANGED,
        };
        Store::log_record_in_txn(
            &mut tx,
            LogRecord::new(
                kind,
                ("versions", version_id),
                by,
                now,
                LogTarget::Version(version_id),
                serde_json::json!({"state": to, "reason": reason}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    // ---- attachments ------------------------------------------------------------

    /// Store an attachment; the same bytes on the same version are stored once
    /// (returns the existing row and `false`).
    pub async fn attachment_insert(
        &self,
        a: &NewAttachment,
    ) -> Result<(AttachmentRow, bool), StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        let out = Self::attachment_write_in_txn(&mut tx, a).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// [`Store::attachment_insert`] inside a transaction: the existing row
    /// (`false`), or the new row with its log entry (`true`).
    pub(crate) async fn attachment_write_in_txn(
        tx: &mut Transaction<'static, Any>,
        a: &NewAttachment,
    ) -> Result<(AttachmentRow, bool), StoreError> {
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE version_id = $1 AND digest = $2"
        );
        if let Some(r) = sqlx::query(AssertSqlSafe(sql))
            .bind(a.version_id)
            .bind(&a.digest)
            .fetch_optional(&mut **tx)
            .await?
        {
            return Ok((attachment_from_row(&r)?, false));
        }
        let sql = format!(
            "INSERT INTO attachments (version_id, kind, media_type, digest, body, signer, fingerprint, created_at, created_by, predicate_type, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {ATTACHMENT_COLUMNS}"
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(a.version_id)
            .bind(&a.kind)
            .bind(&a.media_type)
            .bind(&a.digest)
            .bind(&a.body)
            .bind(&a.signer)
            .bind(&a.fingerprint)
            .bind(now_millis())
            .bind(&a.created_by)
            .bind(&a.predicate_type)
            .bind(&a.summary)
            .fetch_one(&mut **tx)
            .await?;
        let row = attachment_from_row(&r)?;
        Store::log_record_in_txn(
            tx,
            LogRecord::new(
                entry_type::ATTACHMENT_ADDED,
                ("attachments", row.id),
                &row.created_by,
                row.created_at,
                LogTarget::Version(row.version_id),
                serde_json::json!({"kind": row.kind, "digest": row.digest, "media_type": row.media_type, "signer": row.signer}),
            ),
        )
        .await?;
        Ok((row, true))
    }

    /// How many attachments a version holds, of every kind.
    pub async fn attachment_count(&self, version_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM attachments WHERE version_id = $1")
                .bind(version_id)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    /// A version's attachments of one kind, oldest first.
    pub async fn attachments(
        &self,
        version_id: i64,
        kind: &str,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE version_id = $1 AND kind = $2 ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(version_id)
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(attachment_from_row)
            .collect::<Result<_, _>>()?)
    }

    // ---- trusted keys -------------------------------------------------------------

    /// Trust a key in a namespace. Adding a key that is already trusted changes nothing (`false`).
    pub async fn trusted_key_add(
        &self,
        namespace: &str,
        fingerprint: &str,
        public_key: &str,
        comment: &str,
        by: &str,
    ) -> Result<(TrustedKeyRow, bool), StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM trusted_keys WHERE namespace = $1 AND fingerprint = $2 AND removed_at IS NULL"
        );
        if let Some(r) = sqlx::query(AssertSqlSafe(sql))
            .bind(namespace)
            .bind(fingerprint)
            .fetch_optional(&mut *tx)
            .await?
        {
            let existing = key_from_row(&r)?;
            tx.commit().await?;
            return Ok((existing, false));
        }
        let sql = format!(
            "INSERT INTO trusted_keys (namespace, fingerprint, public_key, comment, added_at, added_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}"
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(namespace)
            .bind(fingerprint)
            .bind(public_key)
            .bind(comment)
            .bind(now_millis())
            .bind(by)
            .fetch_one(&mut *tx)
            .await?;
        let row = key_from_row(&r)?;
        Store::log_record_in_txn(
            &mut tx,
            LogRecord::new(
                entry_type::TRUSTED_KEY_ADDED,
                ("trusted_keys", row.id),
                by,
                row.added_at,
                LogTarget::Name(row.namespace.clone()),
                // A root certificate vouches for every chain it issues: the
                // log says which kind of anchor was added.
                serde_json::json!({
                    "fingerprint": row.fingerprint,
                    "kind": if row.public_key.contains("-----BEGIN CERTIFICATE-----") {
                        "root_certificate"
                    } else {
                        "key"
                    },
                }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok((row, true))
    }

    /// Stop trusting a key; the row stays as history. Returns false when it was not trusted.
    pub async fn trusted_key_remove(
        &self,
        namespace: &str,
        fingerprint: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let (mut tx, _writer) = self.begin_write().await?;
        let ids = sqlx::query(
            "UPDATE trusted_keys SET removed_at = $1, removed_by = $2 \
             WHERE namespace = $3 AND fingerprint = $4 AND removed_at IS NULL RETURNING id",
        )
        .bind(now)
        .bind(by)
        .bind(namespace)
        .bind(fingerprint)
        .fetch_all(&mut *tx)
        .await?;
        for r in &ids {
            let id: i64 = r.try_get(0)?;
            Store::log_record_in_txn(
                &mut tx,
                LogRecord::new(
                    entry_type::TRUSTED_KEY_REMOVED,
                    ("trusted_keys", id),
                    by,
                    now,
                    LogTarget::Name(namespace.to_owned()),
                    serde_json::json!({"fingerprint": fingerprint}),
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(!ids.is_empty())
    }

    /// Keys of a namespace, oldest first; with `history`, removed ones too.
    pub async fn trusted_keys(
        &self,
        namespace: &str,
        history: bool,
    ) -> Result<Vec<TrustedKeyRow>, StoreError> {
        let filter = if history {
            ""
        } else {
            " AND removed_at IS NULL"
        };
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM trusted_keys WHERE namespace = $1{filter} ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(namespace)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(key_from_row).collect::<Result<_, _>>()?)
    }

    // ---- aliases --------------------------------------------------------------

    /// Point `alias` at a version and record the move in the alias history.
    pub async fn alias_move(
        &self,
        model_id: i64,
        alias: &str,
        version_id: i64,
        by: &str,
    ) -> Result<AliasEvent, StoreError> {
        let now = now_millis();
        let (mut tx, _writer) = self.begin_write().await?;
        // The version's row is locked (PostgreSQL; SQLite has one writer)
        // before its state is read, as archiving does: an alias can never
        // end up on a version archived at the same moment.
        let state: String = sqlx::query(match self.backend {
            Backend::Postgres => "SELECT state FROM versions WHERE id = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT state FROM versions WHERE id = $1",
        })
        .bind(version_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if state == "archived" {
            return Err(StoreError::VersionArchived { version_id });
        }
        let previous: Option<i64> =
            sqlx::query("SELECT version_id FROM aliases WHERE model_id = $1 AND name = $2")
                .bind(model_id)
                .bind(alias)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        sqlx::query(
            "INSERT INTO aliases (model_id, name, version_id, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (model_id, name) DO UPDATE SET version_id = excluded.version_id, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(model_id)
        .bind(alias)
        .bind(version_id)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query(
            "INSERT INTO alias_history (model_id, alias, version_id, previous_version_id, moved_at, moved_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(model_id)
        .bind(alias)
        .bind(version_id)
        .bind(previous)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let row = sqlx::query(
            "SELECT h.id, h.alias, v.number, p.number, h.moved_at, h.moved_by FROM alias_history h \
             JOIN versions v ON v.id = h.version_id LEFT JOIN versions p ON p.id = h.previous_version_id \
             WHERE h.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let event = alias_event(&row)?;
        let model_name = model_name_in_txn(&mut tx, model_id).await?;
        Store::log_record_in_txn(&mut tx, LogRecord::new(entry_type::ALIAS_MOVED, ("alias_history", id), by, now, LogTarget::Name(model_name), serde_json::json!({"alias": alias, "number": event.number, "previous_number": event.previous_number}))).await?;
        tx.commit().await?;
        Ok(event)
    }

    pub async fn alias_list(&self, model_id: i64) -> Result<Vec<AliasRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.name, a.version_id, v.number, a.updated_at, a.updated_by FROM aliases a \
             JOIN versions v ON v.id = a.version_id WHERE a.model_id = $1 ORDER BY a.name",
        )
        .bind(model_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AliasRow {
                    name: r.try_get(0)?,
                    version_id: r.try_get(1)?,
                    number: r.try_get(2)?,
                    updated_at: r.try_get(3)?,
                    updated_by: r.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Database)
    }

    /// Aliases currently pointing at a version.
    pub async fn aliases_of_version(&self, version_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT name FROM aliases WHERE version_id = $1 ORDER BY name")
            .bind(version_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(StoreError::Database)
    }

    /// Every move of an alias, oldest first.
    pub async fn alias_history(
        &self,
        model_id: i64,
        alias: &str,
    ) -> Result<Vec<AliasEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.id, h.alias, v.number, p.number, h.moved_at, h.moved_by FROM alias_history h \
             JOIN versions v ON v.id = h.version_id LEFT JOIN versions p ON p.id = h.previous_version_id \
             WHERE h.model_id = $1 AND h.alias = $2 ORDER BY h.id",
        )
        .bind(model_id)
        .bind(alias)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(alias_event)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Database)
    }
}

fn alias_event(r: &AnyRow) -> Result<AliasEvent, sqlx::Error> {
    Ok(AliasEvent {
        id: r.try_get(0)?,
        alias: r.try_get(1)?,
        number: r.try_get(2)?,
        previous_number: r.try_get(3)?,
        moved_at: r.try_get(4)?,
        moved_by: r.try_get(5)?,
    })
}

enum Bind {
    I(i64),
    S(String),
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

async fn model_name_in_txn(
    tx: &mut Transaction<'static, Any>,
    model_id: i64,
) -> Result<String, StoreError> {
    Ok(sqlx::query("SELECT full_name FROM models WHERE id = $1")
        .bind(model_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}
