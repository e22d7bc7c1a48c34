//! Keys (and root certificates) a namespace trusts, with their history.

use sqlx::{AssertSqlSafe, Row};

use super::{KEY_COLUMNS, Store, TrustedKeyRow, key_from_row, now_millis};
use crate::StoreError;
use crate::log::{Change, LogRecord, LogTarget};

impl Store {
    /// Trust a key in a namespace. Adding a key that is already trusted changes nothing (`false`).
    pub async fn trusted_key_add(
        &self,
        namespace: &str,
        fingerprint: &str,
        public_key: &str,
        comment: &str,
        by: &str,
    ) -> Result<(TrustedKeyRow, bool), StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
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
        let rec = LogRecord::new(
            Change::TrustedKeyAdded {
                fingerprint: row.fingerprint.clone(),
                public_key: row.public_key.clone(),
            },
            ("trusted_keys", row.id),
            by,
            row.added_at,
            LogTarget::Name(row.namespace.clone()),
        );
        self.commit_logged((tx, writer), [rec]).await?;
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
        let (mut tx, writer) = self.begin_write().await?;
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
        let records = ids
            .iter()
            .map(|r| {
                Ok(LogRecord::new(
                    Change::TrustedKeyRemoved {
                        fingerprint: fingerprint.to_owned(),
                    },
                    ("trusted_keys", r.try_get(0)?),
                    by,
                    now,
                    LogTarget::Name(namespace.to_owned()),
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        self.commit_logged((tx, writer), records).await?;
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
}
