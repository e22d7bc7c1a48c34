//! Publishing versions: one transaction per version on PostgreSQL (where
//! concurrent transactions commit in parallel), group commit on SQLite (one
//! writer at a time: every publish waiting at that moment goes into one
//! transaction, written with one statement per table for the whole group).

use std::collections::{BTreeMap, HashMap};

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{
    AttachmentRow, Backend, NewAttachment, NewLineageEdge, NewVersion, PublishJob, Store,
    VERSION_COLUMNS, VersionRow, labels_json, labels_text, now_millis, version_from_row,
};
use crate::log::{Change, LogRecord, LogTarget};
use crate::{Digest, StoreError};

/// Most publishes one group commit takes.
const MAX_GROUP: usize = 256;

impl Store {
    /// Publish a version atomically: namespace and model are created on first
    /// use, then the version, its files, labels, search entry and log entry are
    /// written in one transaction. Publishing a digest the model already has
    /// returns the existing version and `false`. On SQLite, concurrent
    /// publishes are group committed (falling back to one transaction each if
    /// the group fails, so that only the failing publish reports an error).
    pub async fn version_publish(
        &self,
        new: &NewVersion,
    ) -> Result<(VersionRow, bool), StoreError> {
        if let Some(batcher) = &self.batcher {
            let (reply, rx) = tokio::sync::oneshot::channel();
            if batcher.send((new.clone(), reply)).is_ok() {
                return rx
                    .await
                    .map_err(|_| StoreError::Corrupt("publish writer task stopped".into()))?;
            }
        }
        self.version_publish_single(new).await
    }

    /// Publish a version together with the attachments it was pushed with
    /// (signatures, attestations, provenance and the lineage edges each
    /// establishes), in one transaction: all of it, or nothing. Each
    /// attachment's `version_id` is ignored and set to the version's. On a
    /// digest the model already has, the attachments are added to the
    /// existing version (identical bytes are kept once, as by
    /// [`Store::attachment_insert`]). A parent link that would close a cycle
    /// fails the whole publish ([`StoreError::LineageCycle`]).
    pub async fn version_publish_with_attachments(
        &self,
        new: &NewVersion,
        attachments: &[(NewAttachment, Vec<NewLineageEdge>)],
    ) -> Result<(VersionRow, bool, Vec<(AttachmentRow, bool)>), StoreError> {
        if attachments.is_empty() {
            let (row, created) = self.version_publish(new).await?;
            return Ok((row, created, Vec::new()));
        }
        let (mut tx, writer) = self.begin_write().await?;
        let (row, published) = Self::version_publish_in_txn(&mut tx, self.backend, new).await?;
        let created = published.is_some();
        let mut records: Vec<LogRecord> = published.into_iter().collect();
        let mut out = Vec::with_capacity(attachments.len());
        for (a, edges) in attachments {
            let a = NewAttachment {
                version_id: row.id,
                ..a.clone()
            };
            let (att, added) = Self::attachment_write_in_txn(&mut tx, &a).await?;
            let att_created = added.is_some();
            if att_created && !edges.is_empty() {
                Self::lineage_insert_in_txn(&mut tx, row.id, Some(att.id), edges, att.created_at)
                    .await?;
            }
            records.extend(added);
            out.push((att, att_created));
        }
        self.commit_logged((tx, writer), records).await?;
        Ok((row, created, out))
    }

    async fn version_publish_single(
        &self,
        new: &NewVersion,
    ) -> Result<(VersionRow, bool), StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
        let (row, published) = Self::version_publish_in_txn(&mut tx, self.backend, new).await?;
        let created = published.is_some();
        self.commit_logged((tx, writer), published).await?;
        Ok((row, created))
    }

    /// The group-commit loop behind [`Store::version_publish`] on SQLite.
    pub(super) async fn publish_writer(
        self,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<PublishJob>,
    ) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let news: Vec<&NewVersion> = batch.iter().map(|(n, _)| n).collect();
            match self.version_publish_group(&news).await {
                Ok(results) => {
                    for ((_, reply), r) in batch.into_iter().zip(results) {
                        let _ = reply.send(Ok(r));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, size = batch.len(), "group publish failed; publishing one by one");
                    for (new, reply) in batch {
                        let _ = reply.send(self.version_publish_single(&new).await);
                    }
                }
            }
        }
    }

    /// Publish several versions in one transaction: all or none. Results
    /// come back in order; a digest the model already has, or that comes
    /// earlier in `news`, comes back as the existing version and `false`.
    pub async fn version_publish_group(
        &self,
        news: &[&NewVersion],
    ) -> Result<Vec<(VersionRow, bool)>, StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
        match self.backend {
            Backend::Sqlite => {
                // The group's entries go in with its rows, in one statement.
                let out = self.publish_group_sqlite(&mut tx, news).await?;
                self.commit_logged((tx, writer), []).await?;
                Ok(out)
            }
            Backend::Postgres => {
                let mut out = Vec::with_capacity(news.len());
                let mut records = Vec::new();
                for new in news {
                    let (row, published) =
                        Self::version_publish_in_txn(&mut tx, self.backend, new).await?;
                    out.push((row, published.is_some()));
                    records.extend(published);
                }
                self.commit_logged((tx, writer), records).await?;
                Ok(out)
            }
        }
    }

    /// The model's id, creating namespace and model on first use.
    async fn model_for_publish(
        tx: &mut Transaction<'static, Any>,
        new: &NewVersion,
        full_name: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let existing: Option<i64> = sqlx::query("SELECT id FROM models WHERE full_name = $1")
            .bind(full_name)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if let Some(id) = existing {
            return Ok(id);
        }
        sqlx::query(
            "INSERT INTO namespaces (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&new.namespace)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let ns_id: i64 = sqlx::query("SELECT id FROM namespaces WHERE name = $1")
            .bind(&new.namespace)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        sqlx::query(
            "INSERT INTO models (namespace_id, name, full_name, description, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (full_name) DO NOTHING",
        )
        .bind(ns_id)
        .bind(&new.model_name)
        .bind(full_name)
        .bind(&new.description)
        .bind(now)
        .bind(&new.created_by)
        .execute(&mut **tx)
        .await?;
        Ok(sqlx::query("SELECT id FROM models WHERE full_name = $1")
            .bind(full_name)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?)
    }

    async fn version_publish_in_txn(
        tx: &mut Transaction<'static, Any>,
        backend: Backend,
        new: &NewVersion,
    ) -> Result<(VersionRow, Option<LogRecord>), StoreError> {
        let now = now_millis();
        let full_name = format!("{}/{}", new.namespace, new.model_name);
        let model_id = Self::model_for_publish(tx, new, &full_name, now).await?;

        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id \
             WHERE v.model_id = $1 AND v.digest = $2"
        );
        if let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(model_id)
            .bind(new.digest.to_string())
            .fetch_optional(&mut **tx)
            .await?
        {
            let existing = version_from_row(&row)?;
            return Ok((existing, None));
        }

        // Row lock on PostgreSQL; SQLite already holds the write lock.
        let number: i64 = sqlx::query(
            "UPDATE models SET next_number = next_number + 1 WHERE id = $1 RETURNING next_number",
        )
        .bind(model_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        let created = new_row(new, 0, model_id, full_name, number, now);
        let version_id: i64 = sqlx::query(
            "INSERT INTO versions (model_id, number, digest, manifest, config, config_digest, metadata, \
             metadata_digest, size, file_count, created_at, created_by, labels) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(model_id)
        .bind(number)
        .bind(new.digest.to_string())
        .bind(&new.manifest)
        .bind(&new.config)
        .bind(new.config_digest.to_string())
        .bind(&new.metadata)
        .bind(new.metadata_digest.to_string())
        .bind(created.size)
        .bind(created.file_count)
        .bind(now)
        .bind(&new.created_by)
        .bind(labels_json(&new.labels)?)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;

        for chunk in new.files.chunks(500) {
            let mut sql =
                String::from("INSERT INTO version_files (version_id, path, digest, size) VALUES ");
            for i in 0..chunk.len() {
                let b = i * 4;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for f in chunk {
                q = q
                    .bind(version_id)
                    .bind(&f.path)
                    .bind(f.digest.to_string())
                    .bind(f.size);
            }
            q.execute(&mut **tx).await?;
        }
        if !new.labels.is_empty() {
            let mut sql = String::from(
                "INSERT INTO version_labels (version_id, model_id, key, value) VALUES ",
            );
            for i in 0..new.labels.len() {
                let b = i * 4;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (k, v) in &new.labels {
                q = q.bind(version_id).bind(model_id).bind(k).bind(v);
            }
            q.execute(&mut **tx).await?;
        }
        let search_sql = match backend {
            Backend::Sqlite => "INSERT INTO version_fts (rowid, base, labels) VALUES ($1, $2, $3)",
            Backend::Postgres => {
                "INSERT INTO version_search (version_id, base, labels) VALUES ($1, $2, $3)"
            }
        };
        sqlx::query(search_sql)
            .bind(version_id)
            .bind(&new.search_text)
            .bind(labels_text(&new.labels))
            .execute(&mut **tx)
            .await?;
        let rec = published_record(new, &created, version_id);
        Ok((
            VersionRow {
                id: version_id,
                ..created
            },
            Some(rec),
        ))
    }

    /// [`Store::version_publish_group`] on SQLite, with one statement per
    /// table: each statement takes the whole group as one JSON parameter
    /// (`json_each`), so its text, and its prepared plan, is the same
    /// whatever the group's size; the rows are written in one round trip to
    /// the connection's worker thread.
    async fn publish_group_sqlite(
        &self,
        tx: &mut Transaction<'static, Any>,
        news: &[&NewVersion],
    ) -> Result<Vec<(VersionRow, bool)>, StoreError> {
        let now = now_millis();
        let names: Vec<String> = news
            .iter()
            .map(|n| format!("{}/{}", n.namespace, n.model_name))
            .collect();

        // Versions the group's models already have, by model name and digest.
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM json_each($1) j \
             JOIN models m ON m.full_name = j.value ->> 0 \
             JOIN versions v ON v.model_id = m.id AND v.digest = j.value ->> 1"
        );
        let keys: Vec<(&str, Digest)> = names
            .iter()
            .zip(news)
            .map(|(name, new)| (name.as_str(), new.digest))
            .collect();
        let mut existing: HashMap<(String, Digest), VersionRow> = HashMap::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .bind(json_text(&keys)?)
            .fetch_all(&mut **tx)
            .await?
        {
            let v = version_from_row(&r)?;
            existing.insert((v.model.clone(), v.digest), v);
        }
        // Which entries create a version; how many numbers each model needs.
        enum Slot {
            Existing(Box<VersionRow>),
            New(usize),
            SameAs(usize),
        }
        let mut slots = Vec::with_capacity(news.len());
        let mut first_of: HashMap<(&str, Digest), usize> = HashMap::new();
        let mut needed: BTreeMap<&str, i64> = BTreeMap::new();
        let mut created: Vec<(usize, VersionRow)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(v) = existing.get(&(key.0.to_owned(), key.1)) {
                slots.push(Slot::Existing(Box::new(v.clone())));
            } else if let Some(&first) = first_of.get(key) {
                slots.push(Slot::SameAs(first));
            } else {
                first_of.insert(*key, created.len());
                slots.push(Slot::New(created.len()));
                *needed.entry(key.0).or_default() += 1;
                created.push((i, new_row(news[i], 0, 0, names[i].clone(), 0, now)));
            }
        }

        if !created.is_empty() {
            // Numbers: each model's counter moves once for the group. Models
            // used for the first time are created, then numbered.
            let counts: Vec<(&str, i64)> = needed.into_iter().collect();
            let (mut numbered, mut max_id) = Self::number_models(tx, &counts).await?;
            let missing: Vec<(&str, i64)> = counts
                .iter()
                .filter(|(name, _)| !numbered.contains_key(*name))
                .copied()
                .collect();
            if !missing.is_empty() {
                for (name, _) in &missing {
                    if let Some((i, _)) = created.iter().find(|(_, r)| r.model == *name) {
                        Self::model_for_publish(tx, news[*i], name, now).await?;
                    }
                }
                let (more, max) = Self::number_models(tx, &missing).await?;
                numbered.extend(more);
                max_id = max;
            }
            for (name, count) in &counts {
                let (model_id, last) = numbered.get(*name).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("model {name} vanished during publish"))
                })?;
                let mut number = last - count;
                for (_, row) in created.iter_mut().filter(|(_, r)| r.model == *name) {
                    number += 1;
                    row.number = number;
                    row.model_id = model_id;
                }
            }
            // Ids: the group holds the write lock, so the next row ids are
            // known (rowids count up from the largest, read with the
            // numbers), and every row is written in one round trip with its
            // id given.
            for (k, (_, row)) in created.iter_mut().enumerate() {
                row.id = max_id + 1 + i64::try_from(k).unwrap_or(i64::MAX);
            }
            let mut versions = Vec::with_capacity(created.len());
            let mut files = Vec::new();
            let mut labels = Vec::new();
            let mut search = Vec::with_capacity(created.len());
            let mut log = Vec::with_capacity(created.len());
            for (i, row) in &created {
                let n = news[*i];
                versions.push(serde_json::json!([
                    row.id,
                    row.model_id,
                    row.number,
                    n.digest,
                    hex::encode(&n.manifest),
                    hex::encode(&n.config),
                    n.config_digest,
                    n.metadata,
                    n.metadata_digest,
                    row.size,
                    row.file_count,
                    now,
                    n.created_by,
                    n.labels
                ]));
                for f in &n.files {
                    files.push(serde_json::json!([row.id, f.path, f.digest, f.size]));
                }
                for (k, v) in &n.labels {
                    labels.push(serde_json::json!([row.id, row.model_id, k, v]));
                }
                search.push(serde_json::json!([
                    row.id,
                    n.search_text,
                    labels_text(&n.labels)
                ]));
                let rec = published_record(n, row, row.id);
                let e = self.encode_entry(&rec, &published_target(row))?;
                log.push(serde_json::json!([
                    e.kind,
                    rec.source,
                    row.id,
                    e.entry,
                    now,
                    e.leaf_hash
                ]));
            }
            sqlx::query(
                "INSERT INTO versions (id, model_id, number, digest, manifest, config, \
                 config_digest, metadata, metadata_digest, size, file_count, created_at, \
                 created_by, labels) \
                 SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, \
                 unhex(j.value ->> 4), unhex(j.value ->> 5), j.value ->> 6, j.value ->> 7, \
                 j.value ->> 8, j.value ->> 9, j.value ->> 10, j.value ->> 11, j.value ->> 12, \
                 j.value -> 13 FROM json_each($1) j ORDER BY j.key; \
                 INSERT INTO version_files (version_id, path, digest, size) \
                 SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 \
                 FROM json_each($2) j; \
                 INSERT INTO version_labels (version_id, model_id, key, value) \
                 SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 \
                 FROM json_each($3) j; \
                 INSERT INTO version_fts (rowid, base, labels) \
                 SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each($4) j; \
                 INSERT INTO log_events (type, source, source_id, entry, created_at, leaf_hash) \
                 SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, \
                 j.value ->> 4, j.value ->> 5 FROM json_each($5) j ORDER BY j.key",
            )
            .bind(json_text(&versions)?)
            .bind(json_text(&files)?)
            .bind(json_text(&labels)?)
            .bind(json_text(&search)?)
            .bind(json_text(&log)?)
            .execute(&mut **tx)
            .await?;
        }

        Ok(slots
            .into_iter()
            .map(|s| match s {
                Slot::Existing(v) => (*v, false),
                Slot::New(k) => (created[k].1.clone(), true),
                Slot::SameAs(k) => (created[k].1.clone(), false),
            })
            .collect())
    }
}

impl Store {
    /// Moves each named model's version counter by its count; returns, per
    /// model found, its id and new counter, and the largest version id.
    async fn number_models(
        tx: &mut Transaction<'static, Any>,
        counts: &[(&str, i64)],
    ) -> Result<(HashMap<String, (i64, i64)>, i64), StoreError> {
        let mut numbered = HashMap::new();
        let mut max_id = 0;
        for r in sqlx::query(
            "UPDATE models SET next_number = next_number + (j.value ->> 1) \
             FROM json_each($1) j WHERE models.full_name = j.value ->> 0 \
             RETURNING models.full_name, models.id, models.next_number, \
             (SELECT COALESCE(MAX(id), 0) FROM versions)",
        )
        .bind(json_text(counts)?)
        .fetch_all(&mut **tx)
        .await?
        {
            numbered.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
            max_id = r.try_get(3)?;
        }
        Ok((numbered, max_id))
    }
}

/// The row a publish creates (`id` and `number` filled in by the caller).
fn new_row(
    new: &NewVersion,
    id: i64,
    model_id: i64,
    model: String,
    number: i64,
    now: i64,
) -> VersionRow {
    VersionRow {
        id,
        model_id,
        model,
        number,
        digest: new.digest,
        manifest: new.manifest.clone(),
        config: new.config.clone(),
        config_digest: new.config_digest,
        metadata: new.metadata.clone(),
        metadata_digest: new.metadata_digest,
        size: new.files.iter().map(|f| f.size).sum(),
        file_count: i64::try_from(new.files.len()).unwrap_or(i64::MAX),
        state: "active".into(),
        state_reason: None,
        state_changed_at: None,
        state_changed_by: None,
        created_at: now,
        created_by: new.created_by.clone(),
        annotations: None,
    }
}

/// `ns/name:N`: the log target of a publish, at hand without a lookup.
fn published_target(row: &VersionRow) -> String {
    format!("{}:{}", row.model, row.number)
}

/// The log entry of a publish.
fn published_record(new: &NewVersion, row: &VersionRow, version_id: i64) -> LogRecord {
    LogRecord::new(
        Change::VersionPublished {
            digest: new.digest,
            metadata_digest: new.metadata_digest,
        },
        ("versions", version_id),
        &new.created_by,
        row.created_at,
        LogTarget::Name(published_target(row)),
    )
}

fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("encoding a batch: {e}")))
}
