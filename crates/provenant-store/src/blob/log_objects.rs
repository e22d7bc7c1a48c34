//! Transparency-log objects (tiles, entry bundles, the checkpoint) under
//! `log/` in the blob store.

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::BlobStore;
use crate::StoreError;

impl BlobStore {
    fn log_path(&self, key: &str) -> Result<ObjPath, StoreError> {
        let mut path = self.prefix.clone().join("log");
        for part in key.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err(StoreError::BlobUrl {
                    url: key.to_owned(),
                    reason: "log object key has an empty, `.` or `..` segment".into(),
                });
            }
            path = path.join(part);
        }
        Ok(path)
    }

    /// Write a transparency-log object (a tile, an entry bundle, the
    /// checkpoint) at `log/<key>`; rewriting it replaces it atomically.
    pub async fn log_put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.store
            .put(&self.log_path(key)?, data.into())
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    /// Read a transparency-log object, `None` when absent.
    pub async fn log_get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.store.get(&self.log_path(key)?).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete a transparency-log object (absent is fine).
    pub async fn log_delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&self.log_path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Number of objects and bytes under `log/`.
    pub async fn log_usage(&self) -> Result<(u64, u64), StoreError> {
        let prefix = self.prefix.clone().join("log");
        let mut list = self.store.list(Some(&prefix));
        let (mut count, mut bytes) = (0u64, 0u64);
        while let Some(meta) = list.next().await {
            let meta = meta?;
            count += 1;
            bytes += meta.size;
        }
        Ok((count, bytes))
    }
}
