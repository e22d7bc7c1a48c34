//! Version labels.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Store, now_millis};
use crate::StoreError;
use crate::log::{Change, LogRecord, LogTarget};

/// Labels as the JSON object kept on the version row (keys sorted).
pub(super) fn labels_json(labels: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(labels).map_err(|e| StoreError::Corrupt(format!("labels: {e}")))
}

/// Render label pairs as indexed search text.
pub(super) fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store {
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

    /// Set and remove labels of a version; returns the labels after the change.
    pub async fn version_labels_update(
        &self,
        version_id: i64,
        set: &BTreeMap<String, String>,
        remove: &[String],
        by: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
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
        let rec = LogRecord::new(
            Change::LabelsChanged {
                set: set.clone(),
                remove: remove.to_vec(),
            },
            ("versions", version_id),
            by,
            now_millis(),
            LogTarget::Version(version_id),
        );
        self.commit_logged((tx, writer), [rec]).await?;
        Ok(labels)
    }
}
