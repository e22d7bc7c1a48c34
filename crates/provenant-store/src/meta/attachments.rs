//! Attachments: signed objects whose subject is a version.

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{
    ATTACHMENT_COLUMNS, AttachmentRow, NewAttachment, Store, attachment_from_row, now_millis,
};
use crate::StoreError;
use crate::log::{Change, LogRecord, LogTarget};

impl Store {
    /// Store an attachment; the same bytes on the same version are stored once
    /// (returns the existing row and `false`).
    pub async fn attachment_insert(
        &self,
        a: &NewAttachment,
    ) -> Result<(AttachmentRow, bool), StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
        let (row, logged) = Self::attachment_write_in_txn(&mut tx, a).await?;
        let created = logged.is_some();
        self.commit_logged((tx, writer), logged).await?;
        Ok((row, created))
    }

    /// [`Store::attachment_insert`] inside a transaction: the existing row
    /// (and no record), or the new row and the record its commit must log.
    pub(crate) async fn attachment_write_in_txn(
        tx: &mut Transaction<'static, Any>,
        a: &NewAttachment,
    ) -> Result<(AttachmentRow, Option<LogRecord>), StoreError> {
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE version_id = $1 AND digest = $2"
        );
        if let Some(r) = sqlx::query(AssertSqlSafe(sql))
            .bind(a.version_id)
            .bind(a.digest.to_string())
            .fetch_optional(&mut **tx)
            .await?
        {
            return Ok((attachment_from_row(&r)?, None));
        }
        let sql = format!(
            "INSERT INTO attachments (version_id, kind, media_type, digest, body, signer, fingerprint, created_at, created_by, predicate_type, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {ATTACHMENT_COLUMNS}"
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(a.version_id)
            .bind(&a.kind)
            .bind(&a.media_type)
            .bind(a.digest.to_string())
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
        let rec = LogRecord::new(
            Change::AttachmentAdded {
                kind: row.kind.clone(),
                digest: row.digest,
                media_type: row.media_type.clone(),
                signer: row.signer.clone(),
            },
            ("attachments", row.id),
            &row.created_by,
            row.created_at,
            LogTarget::Version(row.version_id),
        );
        Ok((row, Some(rec)))
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
        rows.iter().map(attachment_from_row).collect()
    }
}
