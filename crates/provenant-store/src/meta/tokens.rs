//! API tokens.

use sqlx::Row;

use super::{Store, TokenRow, now_millis};
use crate::StoreError;

impl Store {
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
}
