//! Sizes of the blobs the store holds (uploads that committed).

use sqlx::{AssertSqlSafe, Row};

use super::Store;
use crate::{Digest, StoreError};

impl Store {
    /// Record a blob the store now holds (an upload committed). Recording it
    /// again is a no-op.
    pub async fn blob_size_record(&self, digest: &Digest, size: u64) -> Result<(), StoreError> {
        let size = i64::try_from(size)
            .map_err(|_| StoreError::Corrupt(format!("blob {digest} is larger than 2^63 bytes")))?;
        let _writer = self.writer_slot().await;
        sqlx::query(
            "INSERT INTO blob_sizes (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest.to_string())
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
}
