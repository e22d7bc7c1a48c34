//! Aliases (`ns/name#production`) and their history.

use sqlx::Row;

use super::{AliasEvent, AliasRow, Backend, Store, alias_event, model_name_in_txn, now_millis};
use crate::StoreError;
use crate::log::{Change, LogRecord, LogTarget};

impl Store {
    /// Point `alias` at a version and record the move in the alias history.
    pub async fn alias_move(
        &self,
        model_id: i64,
        alias: &str,
        version_id: i64,
        by: &str,
    ) -> Result<AliasEvent, StoreError> {
        let now = now_millis();
        let (mut tx, writer) = self.begin_write().await?;
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
        let rec = LogRecord::new(
            Change::AliasMoved {
                alias: alias.to_owned(),
                number: event.number,
                previous_number: event.previous_number,
            },
            ("alias_history", id),
            by,
            now,
            LogTarget::Name(model_name),
        );
        self.commit_logged((tx, writer), [rec]).await?;
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
