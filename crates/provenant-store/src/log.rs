//! Transparency-log tables (migration 0003).
//!
//! - `log_events` is both the outbox and the log's index. Every registry state
//!   change inserts its entry in the same transaction as the change (so a
//!   change and its entry commit or vanish together); `log_index` stays NULL
//!   until the sequencer integrates the entry and a checkpoint covers it.
//!   `source`/`source_id` name the row the entry records: that row's log
//!   index is the event's `log_index`.
//! - `log_state` is one row (size, root, signed checkpoint). The sequencer
//!   locks it for each batch ([`Store::log_batch_begin`]: `FOR UPDATE` on
//!   PostgreSQL, the write lock on SQLite), so replicas over one database
//!   serialise, and [`LogBatch::commit`] only advances it from the size it read.
//!
//! # Storage stores; the domain decides
//!
//! The store does not know what a log entry looks like. A write method
//! describes what it wrote as a [`LogRecord`] (the row, who, when, the
//! target, and a [`Change`] with the values written), and hands it to one
//! write-then-log helper, which resolves the target (a version id becomes
//! `ns/name:N`), asks the [`EntryEncoder`] for the entry, and inserts the
//! entry in the write's transaction before committing it. The encoder is the
//! registry's (`provenant_registry::LogEntries`: entry kinds, schema version,
//! RFC 8785 canonical JSON, RFC 6962 leaf hashes); it is given to the store
//! once with [`Store::set_entry_encoder`] and shared by every clone of the
//! store. A write that logs on a store without an encoder fails (nothing is
//! written).

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::meta::{Backend, WriteTxn, stored_digest};
use crate::{Digest, Store, StoreError};

/// What a write changed, in the values it wrote: the encoder turns it into
/// the entry's type and details. Not `#[non_exhaustive]`: the registry maps
/// every variant, and a new one must join that mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A version was published (`versions` row).
    VersionPublished {
        digest: Digest,
        metadata_digest: Digest,
    },
    /// An attachment was stored (`attachments` row).
    AttachmentAdded {
        kind: String,
        digest: Digest,
        media_type: String,
        signer: String,
    },
    /// A version's labels were set and removed (`versions` row).
    LabelsChanged {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    /// A version's state moved (`versions` row).
    StateChanged { state: String, reason: String },
    /// An alias moved (`alias_history` row).
    AliasMoved {
        alias: String,
        number: i64,
        previous_number: Option<i64>,
    },
    /// A namespace trusts a key or root certificate (`trusted_keys` row).
    TrustedKeyAdded {
        fingerprint: String,
        public_key: String,
    },
    /// A namespace stopped trusting a key (`trusted_keys` row).
    TrustedKeyRemoved { fingerprint: String },
    /// The policy gate decided about a version (`policy_decisions` row).
    PolicyDecision {
        action: String,
        digest: String,
        environment: String,
        allowed: bool,
        policy_set: String,
        input_digest: String,
        /// The decision document (JSON) as it was answered.
        decision: String,
    },
    /// The server loaded a policy set (`policy_sets` row).
    PolicySetLoaded {
        digest: String,
        /// What the set holds (JSON).
        description: String,
    },
}

/// What an entry is about.
#[derive(Clone, Debug)]
pub enum LogTarget {
    /// A name as is (a model, a namespace).
    Name(String),
    /// A version by row id, written as `ns/name:N`.
    Version(i64),
}

/// One registry state change to log.
#[derive(Clone, Debug)]
pub struct LogRecord {
    /// Table of the row that records the change.
    pub source: &'static str,
    pub source_id: i64,
    /// Principal who made the change.
    pub who: String,
    /// Unix milliseconds.
    pub when: i64,
    pub target: LogTarget,
    pub change: Change,
}

impl LogRecord {
    pub fn new(
        change: Change,
        (source, source_id): (&'static str, i64),
        who: &str,
        when: i64,
        target: LogTarget,
    ) -> Self {
        Self {
            source,
            source_id,
            who: who.to_owned(),
            when,
            target,
            change,
        }
    }
}

/// A change to encode, with its target resolved.
#[derive(Clone, Copy, Debug)]
pub struct EntryInput<'a> {
    pub change: &'a Change,
    pub who: &'a str,
    /// Unix milliseconds.
    pub when: i64,
    /// `ns/name:N` for a version, else the name as is.
    pub target: &'a str,
}

/// An encoded entry, as the outbox keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEntry {
    /// The entry's type (`log_events.type`).
    pub kind: String,
    /// The entry's bytes, sequenced as they are.
    pub entry: String,
    /// The entry's Merkle leaf hash, hex.
    pub leaf_hash: String,
}

/// The registry's log-entry schema, as the store sees it: see the module
/// documentation.
pub trait EntryEncoder: Send + Sync + std::fmt::Debug {
    /// The entry recording `input`; an error is a message naming the entry.
    fn encode(&self, input: &EntryInput<'_>) -> Result<EncodedEntry, String>;
    /// The entry type of `change` (`log_events.type`).
    fn kind(&self, change: &Change) -> &'static str;
    /// The fields of the `details` of `change`'s entry that `audit verify`
    /// checks, with the values they must hold.
    fn audit_details(&self, change: &Change) -> serde_json::Value;
}

/// The encoder slot every clone of a [`Store`] shares.
pub(crate) type EncoderSlot = Arc<std::sync::OnceLock<Arc<dyn EntryEncoder>>>;

/// A row of `log_events`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEventRow {
    pub id: i64,
    pub kind: String,
    pub source: String,
    pub source_id: i64,
    pub entry: String,
    pub created_at: i64,
    pub log_index: Option<i64>,
    pub leaf_hash: Option<String>,
}

const EVENT_COLUMNS: &str = "id, type, source, source_id, entry, created_at, log_index, leaf_hash";

fn event_from_row(r: &AnyRow) -> Result<LogEventRow, sqlx::Error> {
    Ok(LogEventRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        source: r.try_get(2)?,
        source_id: r.try_get(3)?,
        entry: r.try_get(4)?,
        created_at: r.try_get(5)?,
        log_index: r.try_get(6)?,
        leaf_hash: r.try_get(7)?,
    })
}

/// The `log_state` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogStateRow {
    pub size: u64,
    /// Hex root hash.
    pub root: String,
    /// The signed checkpoint note ("" before the first one is signed).
    pub checkpoint: String,
    /// The latest checkpoint with witness cosignatures, if any.
    pub cosigned: Option<String>,
    pub updated_at: i64,
}

fn state_from_row(r: &AnyRow) -> Result<LogStateRow, StoreError> {
    let size: i64 = r.try_get(0)?;
    Ok(LogStateRow {
        size: u64::try_from(size)
            .map_err(|_| StoreError::Corrupt(format!("log_state.size is negative: {size}")))?,
        root: r.try_get(1)?,
        checkpoint: r.try_get(2)?,
        cosigned: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

/// An entry waiting to be sequenced.
#[derive(Clone, Debug)]
pub struct PendingEntry {
    pub id: i64,
    pub entry: String,
}

/// One sequencing batch: the open transaction holding the log-state lock,
/// the state it read, and the pending entries it took (in outbox order).
pub struct LogBatch {
    tx: Transaction<'static, Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    backend: Backend,
    pub state: LogStateRow,
    pub pending: Vec<PendingEntry>,
}

/// One sequenced entry: outbox id, assigned index, leaf hash (hex).
#[derive(Clone, Debug)]
pub struct Assigned {
    pub id: i64,
    pub index: u64,
    pub leaf_hash: String,
}

/// A registry row and what its log entry must say (for `audit verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Table and row id.
    pub source: String,
    pub source_id: i64,
    /// Expected entry type.
    pub kind: String,
    /// Expected `target`.
    pub target: String,
    /// Expected `who`.
    pub who: String,
    /// Fields the entry's `details` must hold with these values.
    pub details: serde_json::Value,
    /// Log index of the row's entry; absent when the row has none sequenced.
    pub log_index: Option<i64>,
}

impl Store {
    /// Give the store the registry's log-entry schema (see the module
    /// documentation). Every clone of this store shares it; the first one
    /// given stays.
    pub fn set_entry_encoder(&self, encoder: Arc<dyn EntryEncoder>) {
        // A second encoder is ignored: there is one schema per process.
        let _ = self.encoder.set(encoder);
    }

    /// The encoder, or why a logged write cannot go on.
    pub(crate) fn encoder(&self) -> Result<&dyn EntryEncoder, StoreError> {
        self.encoder.get().map(|e| &**e).ok_or_else(|| {
            StoreError::Corrupt(
                "no log entry encoder: the registry gives one (Store::set_entry_encoder)".into(),
            )
        })
    }

    /// Encode `rec`, whose target is `target`.
    pub(crate) fn encode_entry(
        &self,
        rec: &LogRecord,
        target: &str,
    ) -> Result<EncodedEntry, StoreError> {
        self.encoder()?
            .encode(&EntryInput {
                change: &rec.change,
                who: &rec.who,
                when: rec.when,
                target,
            })
            .map_err(StoreError::Corrupt)
    }

    /// Write-then-log: the tail of every write method. Inserts the entry of
    /// each of `records`, in order, in the write's transaction, then commits
    /// it: the change and its entries land together or not at all.
    pub(crate) async fn commit_logged(
        &self,
        (mut tx, _writer): WriteTxn,
        records: impl IntoIterator<Item = LogRecord>,
    ) -> Result<(), StoreError> {
        for rec in records {
            self.log_in_txn(&mut tx, &rec).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inserts the entry for a state change, in the change's transaction.
    async fn log_in_txn(
        &self,
        tx: &mut Transaction<'static, Any>,
        rec: &LogRecord,
    ) -> Result<(), StoreError> {
        let target = match &rec.target {
            LogTarget::Name(n) => n.clone(),
            LogTarget::Version(id) => {
                let r = sqlx::query(
                    "SELECT m.full_name, v.number FROM versions v JOIN models m ON m.id = v.model_id WHERE v.id = $1",
                )
                .bind(*id)
                .fetch_one(&mut **tx)
                .await?;
                let name: String = r.try_get(0)?;
                let number: i64 = r.try_get(1)?;
                format!("{name}:{number}")
            }
        };
        let encoded = self.encode_entry(rec, &target)?;
        sqlx::query(
            "INSERT INTO log_events (type, source, source_id, entry, created_at, leaf_hash) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(encoded.kind)
        .bind(rec.source)
        .bind(rec.source_id)
        .bind(encoded.entry)
        .bind(rec.when)
        .bind(encoded.leaf_hash)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Appends raw entries to the outbox in one transaction (benchmarks,
    /// tests, and entry types with no registry row).
    pub async fn log_append_raw(&self, kind: &str, entries: &[String]) -> Result<(), StoreError> {
        let now = crate::now_millis();
        let (mut tx, _writer) = self.begin_write().await?;
        // Small statements: sqlx-sqlite resolves each `$N` by scanning the
        // statement's parameter names, quadratic in the parameter count.
        for chunk in entries.chunks(64) {
            let mut sql = String::from(
                "INSERT INTO log_events (type, source, source_id, entry, created_at, leaf_hash) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 4;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, 'raw', 0, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                ));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(kind)
                    .bind(e)
                    .bind(now)
                    .bind(provenant_tlog::leaf_hash(e.as_bytes()).to_hex());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates the state row of an empty log (no-op when it exists).
    pub async fn log_state_init(&self, empty_root: &str) -> Result<(), StoreError> {
        let _writer = self.writer_slot().await;
        sqlx::query(
            "INSERT INTO log_state (id, size, root, checkpoint, updated_at) VALUES (1, 0, $1, '', $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(empty_root)
        .bind(crate::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The current log state (None before [`Store::log_state_init`]).
    pub async fn log_state(&self) -> Result<Option<LogStateRow>, StoreError> {
        let r = sqlx::query(
            "SELECT size, root, checkpoint, cosigned, updated_at FROM log_state WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(state_from_row).transpose()
    }

    /// Stores the latest cosigned checkpoint.
    pub async fn log_cosigned_set(&self, note: &str) -> Result<(), StoreError> {
        let _writer = self.writer_slot().await;
        sqlx::query("UPDATE log_state SET cosigned = $1 WHERE id = 1")
            .bind(note)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Entries not sequenced yet.
    pub async fn log_pending_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM log_events WHERE log_index IS NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        )
    }

    /// Whether any entry is pending (cheap: one index probe, no lock).
    pub async fn log_pending_count_fast(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT id FROM log_events WHERE log_index IS NULL LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(i64::from(r.is_some()))
    }

    /// Opens a sequencing batch: locks the log state and takes up to `max`
    /// pending entries in outbox order.
    pub async fn log_batch_begin(&self, max: i64) -> Result<LogBatch, StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
        let lock = match self.backend {
            Backend::Postgres => {
                "SELECT size, root, checkpoint, cosigned, updated_at FROM log_state WHERE id = 1 FOR UPDATE"
            }
            Backend::Sqlite => {
                "SELECT size, root, checkpoint, cosigned, updated_at FROM log_state WHERE id = 1"
            }
        };
        let state = sqlx::query(lock)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt("log_state row is missing".into()))?;
        let state = state_from_row(&state)?;
        let rows = sqlx::query(
            "SELECT id, entry FROM log_events WHERE log_index IS NULL ORDER BY id LIMIT CAST($1 AS BIGINT)",
        )
        .bind(max)
        .fetch_all(&mut *tx)
        .await?;
        let pending = rows
            .iter()
            .map(|r| {
                Ok(PendingEntry {
                    id: r.try_get(0)?,
                    entry: r.try_get(1)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(LogBatch {
            tx,
            _writer: writer,
            backend: self.backend,
            state,
            pending,
        })
    }

    /// The event at a log index.
    pub async fn log_event_by_index(&self, index: u64) -> Result<Option<LogEventRow>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM log_events WHERE log_index = $1");
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(i64::try_from(index).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(event_from_row).transpose()?)
    }

    /// The sequenced event whose RFC 6962 leaf hash is `hex`.
    pub async fn log_event_by_leaf_hash(
        &self,
        hex: &str,
    ) -> Result<Option<LogEventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM log_events WHERE leaf_hash = $1 AND log_index IS NOT NULL ORDER BY log_index LIMIT 1"
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(hex)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(event_from_row).transpose()?)
    }

    /// Events recording a given row, oldest first.
    pub async fn log_events_of(
        &self,
        source: &str,
        source_id: i64,
    ) -> Result<Vec<LogEventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM log_events WHERE source = $1 AND source_id = $2 ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(source)
            .bind(source_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(event_from_row).collect::<Result<_, _>>()?)
    }

    /// Every event recording one version, oldest first: those of its row
    /// (publish, labels, state) and those of each of its attachments, of
    /// every kind (signatures, SBOMs, provenance).
    pub async fn log_events_of_version(
        &self,
        version_id: i64,
    ) -> Result<Vec<LogEventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM log_events \
             WHERE (source = 'versions' AND source_id = $1) \
                OR (source = 'attachments' AND source_id IN (SELECT id FROM attachments WHERE version_id = $1)) \
             ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(version_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(event_from_row).collect::<Result<_, _>>()?)
    }

    /// Events created at or after `since` (Unix ms), after outbox id `after`.
    pub async fn log_events_since(
        &self,
        since: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LogEventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM log_events WHERE created_at >= $1 AND id > $2 ORDER BY id LIMIT CAST($3 AS BIGINT)"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(since)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(event_from_row).collect::<Result<_, _>>()?)
    }

    /// What every logged registry row says, with its log index: versions,
    /// attachments, alias moves, trusted keys added, policy decisions and
    /// policy sets loaded. The entry type and the
    /// details each entry must hold are the encoder's.
    pub async fn log_audit_records(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let enc = self.encoder()?;
        // Each row's own entry, found by its type (the kind does not depend
        // on the values, only on the change).
        let any_digest = Digest::sha256(b"");
        let published = enc.kind(&Change::VersionPublished {
            digest: any_digest,
            metadata_digest: any_digest,
        });
        let added = enc.kind(&Change::AttachmentAdded {
            kind: String::new(),
            digest: any_digest,
            media_type: String::new(),
            signer: String::new(),
        });
        let moved = enc.kind(&Change::AliasMoved {
            alias: String::new(),
            number: 0,
            previous_number: None,
        });
        let trusted = enc.kind(&Change::TrustedKeyAdded {
            fingerprint: String::new(),
            public_key: String::new(),
        });
        let record = |source: &str,
                      source_id: i64,
                      target: String,
                      who: String,
                      change: Change,
                      log_index: Option<i64>| AuditRecord {
            source: source.into(),
            source_id,
            kind: enc.kind(&change).into(),
            target,
            who,
            details: enc.audit_details(&change),
            log_index,
        };
        let mut out = Vec::new();
        let rows = sqlx::query(
            "SELECT v.id, m.full_name, v.number, v.digest, v.metadata_digest, v.created_by, e.log_index \
             FROM versions v JOIN models m ON m.id = v.model_id \
             LEFT JOIN log_events e ON e.source = 'versions' AND e.source_id = v.id AND e.type = $1 \
             ORDER BY v.id",
        )
        .bind(published)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let name: String = r.try_get(1)?;
            let number: i64 = r.try_get(2)?;
            let digest: String = r.try_get(3)?;
            let metadata_digest: String = r.try_get(4)?;
            let change = Change::VersionPublished {
                digest: stored_digest("versions", "digest", &digest)?,
                metadata_digest: stored_digest("versions", "metadata_digest", &metadata_digest)?,
            };
            out.push(record(
                "versions",
                r.try_get(0)?,
                format!("{name}:{number}"),
                r.try_get(5)?,
                change,
                r.try_get(6)?,
            ));
        }
        let rows = sqlx::query(
            "SELECT a.id, m.full_name, v.number, a.kind, a.digest, a.created_by, e.log_index, \
             a.media_type, a.signer \
             FROM attachments a JOIN versions v ON v.id = a.version_id JOIN models m ON m.id = v.model_id \
             LEFT JOIN log_events e ON e.source = 'attachments' AND e.source_id = a.id AND e.type = $1 \
             ORDER BY a.id",
        )
        .bind(added)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let name: String = r.try_get(1)?;
            let number: i64 = r.try_get(2)?;
            let digest: String = r.try_get(4)?;
            let change = Change::AttachmentAdded {
                kind: r.try_get(3)?,
                digest: stored_digest("attachments", "digest", &digest)?,
                media_type: r.try_get(7)?,
                signer: r.try_get(8)?,
            };
            out.push(record(
                "attachments",
                r.try_get(0)?,
                format!("{name}:{number}"),
                r.try_get(5)?,
                change,
                r.try_get(6)?,
            ));
        }
        let rows = sqlx::query(
            "SELECT h.id, m.full_name, h.alias, v.number, h.moved_by, e.log_index, p.number \
             FROM alias_history h JOIN models m ON m.id = h.model_id JOIN versions v ON v.id = h.version_id \
             LEFT JOIN versions p ON p.id = h.previous_version_id \
             LEFT JOIN log_events e ON e.source = 'alias_history' AND e.source_id = h.id AND e.type = $1 \
             ORDER BY h.id",
        )
        .bind(moved)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let change = Change::AliasMoved {
                alias: r.try_get(2)?,
                number: r.try_get(3)?,
                previous_number: r.try_get(6)?,
            };
            out.push(record(
                "alias_history",
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(4)?,
                change,
                r.try_get(5)?,
            ));
        }
        let rows = sqlx::query(
            "SELECT k.id, k.namespace, k.fingerprint, k.added_by, e.log_index, k.public_key FROM trusted_keys k \
             LEFT JOIN log_events e ON e.source = 'trusted_keys' AND e.source_id = k.id AND e.type = $1 \
             ORDER BY k.id",
        )
        .bind(trusted)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let change = Change::TrustedKeyAdded {
                fingerprint: r.try_get(2)?,
                public_key: r.try_get(5)?,
            };
            out.push(record(
                "trusted_keys",
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(3)?,
                change,
                r.try_get(4)?,
            ));
        }
        let decided = enc.kind(&Change::PolicyDecision {
            action: String::new(),
            digest: String::new(),
            environment: String::new(),
            allowed: false,
            policy_set: String::new(),
            input_digest: String::new(),
            decision: String::new(),
        });
        let rows = sqlx::query(
            "SELECT d.id, d.model, d.decided_by, e.log_index, d.action, d.digest, d.environment, \
             d.allowed, d.policy_set, d.input_digest, d.decision FROM policy_decisions d \
             LEFT JOIN log_events e ON e.source = 'policy_decisions' AND e.source_id = d.id AND e.type = $1 \
             ORDER BY d.id",
        )
        .bind(decided)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let change = Change::PolicyDecision {
                action: r.try_get(4)?,
                digest: r.try_get(5)?,
                environment: r.try_get(6)?,
                allowed: r.try_get::<i64, _>(7)? != 0,
                policy_set: r.try_get(8)?,
                input_digest: r.try_get(9)?,
                decision: r.try_get(10)?,
            };
            out.push(record(
                "policy_decisions",
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                change,
                r.try_get(3)?,
            ));
        }
        let loaded = enc.kind(&Change::PolicySetLoaded {
            digest: String::new(),
            description: String::new(),
        });
        let rows = sqlx::query(
            "SELECT p.id, p.loaded_by, e.log_index, p.digest, p.description FROM policy_sets p \
             LEFT JOIN log_events e ON e.source = 'policy_sets' AND e.source_id = p.id AND e.type = $1 \
             ORDER BY p.id",
        )
        .bind(loaded)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let change = Change::PolicySetLoaded {
                digest: r.try_get(3)?,
                description: r.try_get(4)?,
            };
            out.push(record(
                "policy_sets",
                r.try_get(0)?,
                "policy".to_owned(),
                r.try_get(1)?,
                change,
                r.try_get(2)?,
            ));
        }
        Ok(out)
    }
}

impl LogBatch {
    /// Records the assigned indexes and advances the state from the size
    /// this batch read to `size`/`root`/`checkpoint`, atomically.
    pub async fn commit(
        mut self,
        assigned: &[Assigned],
        size: u64,
        root: &str,
        checkpoint: &str,
    ) -> Result<(), StoreError> {
        // Leaf hashes were stored with the entries. Outbox ids in a batch are
        // usually consecutive: then one range UPDATE assigns every index.
        let contiguous = match (assigned.first(), assigned.last()) {
            (Some(f), Some(l)) => {
                assigned
                    .windows(2)
                    .all(|w| w[1].id == w[0].id + 1 && w[1].index == w[0].index + 1)
                    && l.id - f.id + 1 == assigned.len() as i64
            }
            _ => false,
        };
        if contiguous && let (Some(f), Some(l)) = (assigned.first(), assigned.last()) {
            let offset = i64::try_from(f.index).unwrap_or(i64::MAX) - f.id;
            let done = sqlx::query(
                "UPDATE log_events SET log_index = id + $1 WHERE id >= $2 AND id <= $3 AND log_index IS NULL",
            )
            .bind(offset)
            .bind(f.id)
            .bind(l.id)
            .execute(&mut *self.tx)
            .await?;
            if done.rows_affected() != assigned.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "sequencing: {} of the {} pending entries {}..={} were no longer pending",
                    assigned.len() as u64 - done.rows_affected(),
                    assigned.len(),
                    f.id,
                    l.id
                )));
            }
        } else if self.backend == Backend::Sqlite {
            // One prepared statement per row: a primary-key lookup each, in
            // the open transaction (SQLite's planner may scan the table for
            // an UPDATE … FROM (VALUES …) join).
            for a in assigned {
                let done = sqlx::query(
                    "UPDATE log_events SET log_index = $1, leaf_hash = $2 WHERE id = $3 AND log_index IS NULL",
                )
                .bind(i64::try_from(a.index).unwrap_or(i64::MAX))
                .bind(&a.leaf_hash)
                .bind(a.id)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "sequencing: log event {} was no longer pending",
                        a.id
                    )));
                }
            }
        }
        let batched: &[Assigned] = if contiguous || self.backend == Backend::Sqlite {
            &[]
        } else {
            assigned
        };
        for chunk in batched.chunks(1000) {
            let mut sql = String::new();
            let mut values = String::new();
            for i in 0..chunk.len() {
                let b = i * 3;
                if i > 0 {
                    values.push(',');
                }
                match self.backend {
                    Backend::Postgres => values.push_str(&format!(
                        "(${}::bigint, ${}::bigint, ${}::text)",
                        b + 1,
                        b + 2,
                        b + 3
                    )),
                    Backend::Sqlite => {
                        values.push_str(&format!("(${}, ${}, ${})", b + 1, b + 2, b + 3))
                    }
                }
            }
            match self.backend {
                Backend::Postgres => sql.push_str(&format!(
                    "UPDATE log_events SET log_index = v.idx, leaf_hash = v.h FROM (VALUES {values}) AS v(id, idx, h) \
                     WHERE log_events.id = v.id AND log_events.log_index IS NULL"
                )),
                Backend::Sqlite => sql.push_str(&format!(
                    "UPDATE log_events SET log_index = v.column2, leaf_hash = v.column3 FROM (VALUES {values}) AS v \
                     WHERE log_events.id = v.column1 AND log_events.log_index IS NULL"
                )),
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for a in chunk {
                q = q
                    .bind(a.id)
                    .bind(i64::try_from(a.index).unwrap_or(i64::MAX))
                    .bind(&a.leaf_hash);
            }
            let done = q.execute(&mut *self.tx).await?;
            if done.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "sequencing: {} of {} pending entries were no longer pending",
                    chunk.len() as u64 - done.rows_affected(),
                    chunk.len()
                )));
            }
        }
        let done = sqlx::query(
            "UPDATE log_state SET size = $1, root = $2, checkpoint = $3, updated_at = $4 \
             WHERE id = 1 AND size = $5",
        )
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(root)
        .bind(checkpoint)
        .bind(crate::now_millis())
        .bind(i64::try_from(self.state.size).unwrap_or(i64::MAX))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "log state moved away from size {} during the batch",
                self.state.size
            )));
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// Ends the batch without changes.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}
