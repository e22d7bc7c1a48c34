//! Versions: single reads, files, lifecycle state (publishing is in
//! `publish.rs`, listings in `search.rs`).

use sqlx::{AssertSqlSafe, Row};

use super::rows::stored_digest;
use super::{Backend, FileRow, Store, VERSION_COLUMNS, VersionRow, now_millis, version_from_row};
use crate::log::{Change, LogRecord, LogTarget};
use crate::{Digest, StoreError};

impl Store {
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
        row.as_ref().map(version_from_row).transpose()
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
        row.as_ref().map(version_from_row).transpose()
    }

    pub async fn version_by_digest(
        &self,
        model_id: i64,
        digest: &Digest,
    ) -> Result<Option<VersionRow>, StoreError> {
        self.version_where(
            "v.model_id = $1 AND v.digest = $2",
            model_id,
            Some(&digest.to_string()),
        )
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
        rows.iter().map(version_from_row).collect()
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
                let digest: String = r.try_get(1)?;
                Ok(FileRow {
                    path: r.try_get(0)?,
                    digest: stored_digest("version_files", "digest", &digest)?,
                    size: r.try_get(2)?,
                })
            })
            .collect()
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
        let (mut tx, writer) = self.begin_write().await?;
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
        let rec = LogRecord::new(
            Change::StateChanged {
                state: to.to_owned(),
                reason: reason.to_owned(),
            },
            ("versions", version_id),
            by,
            now,
            LogTarget::Version(version_id),
        );
        self.commit_logged((tx, writer), [rec]).await?;
        Ok(true)
    }
}
