//! Proofs over published trees: inclusion, consistency, roots.

use std::sync::Arc;

use provenant_tlog::{Hash, consistency_proof, inclusion_proof, tree_hash};

use super::readers::NodeTable;
use super::{LogError, LogHead, TransparencyLog};

impl TransparencyLog {
    fn check_size(&self, size: u64, head: &LogHead) -> Result<(), LogError> {
        if size > head.size {
            return Err(LogError::Beyond {
                what: "tree size",
                value: size,
                size: head.size,
            });
        }
        Ok(())
    }

    /// Inclusion proof for `index` in the tree of `size` (default: latest).
    pub async fn inclusion(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<(u64, Vec<Hash>), LogError> {
        let given = size;
        let mut head = self.head(false).await?;
        if given.is_some_and(|s| s > head.size) || index >= given.unwrap_or(head.size) {
            head = self.head(true).await?;
        }
        let size = given.unwrap_or(head.size);
        self.check_size(size, &head)?;
        if index >= size {
            return Err(LogError::Tlog(provenant_tlog::Error::IndexOutOfRange {
                what: "leaf index",
                index,
                size,
            }));
        }
        let proof = self
            .with_nodes(size, |r| inclusion_proof(index, size, r))
            .await?;
        Ok((size, proof))
    }

    /// Consistency proof between two published sizes.
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        let mut head = self.head(false).await?;
        if new > head.size {
            head = self.head(true).await?;
        }
        self.check_size(new, &head)?;
        self.with_nodes(new, |r| consistency_proof(old, new, r))
            .await
    }

    /// Root hash of a published size.
    pub async fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.with_nodes(size, |r| tree_hash(size, r)).await
    }

    /// A hash reader's view for benchmarks: proof from cache only.
    pub async fn warm(&self, size: u64) -> Result<(), LogError> {
        for id in provenant_tlog::tiles_for_size(size) {
            let raw = self.fetch_tile(id, size).await?;
            self.inner
                .nodes
                .insert(id, Arc::new(NodeTable::build(&id, &raw)?));
        }
        Ok(())
    }
}
