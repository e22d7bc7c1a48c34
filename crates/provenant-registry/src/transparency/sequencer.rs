//! The sequencer: one batch integrates pending entries, writes the changed
//! tiles and bundles, signs a checkpoint and commits (see the storage rules
//! in the documentation of `transparency`).

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use provenant_store::Assigned;
use provenant_tlog::{Checkpoint, NoteSigner, TILE_WIDTH, TileId, integrate, tree_hash};

use super::{LogError, LogHead, TransparencyLog, hex_hash};

impl TransparencyLog {
    /// Integrates one batch of pending entries; returns how many. Signs the
    /// current tree when nothing has been signed yet.
    pub async fn sequence_once(&self) -> Result<usize, LogError> {
        let store = &self.inner.store;
        let head_known = self
            .inner
            .head
            .lock()
            .ok()
            .and_then(|g| g.0.as_ref().map(|h| !h.checkpoint.is_empty()))
            .unwrap_or(false);
        if head_known && store.log_pending_count_fast().await? == 0 {
            return Ok(0);
        }
        let batch = store
            .log_batch_begin(i64::try_from(self.inner.config.batch_max).unwrap_or(4096))
            .await?;
        let old_size = batch.state.size;
        let old_root = hex_hash(&batch.state.root, "log_state.root")?;
        if batch.pending.is_empty() && !batch.state.checkpoint.is_empty() {
            let head = Self::state_head(&batch.state)?;
            batch.rollback().await?;
            self.set_head(head);
            return Ok(0);
        }

        // The rightmost partial bundle, then integrate.
        let partial = match old_size % TILE_WIDTH {
            0 => Vec::new(),
            w => self
                .fetch_tile(TileId::entries(old_size / TILE_WIDTH, w as u16), old_size)
                .await?
                .to_vec(),
        };
        let entries: Vec<&[u8]> = batch.pending.iter().map(|p| p.entry.as_bytes()).collect();
        let (computed_old, integ) = self
            .with_tiles(old_size, |r| {
                Ok((
                    tree_hash(old_size, r)?,
                    integrate(old_size, r, &partial, &entries)?,
                ))
            })
            .await?;
        if computed_old != old_root {
            return Err(LogError::Inconsistent {
                size: old_size,
                reason: format!(
                    "stored tiles give root {} but the log state says {}",
                    computed_old.to_hex(),
                    old_root.to_hex()
                ),
            });
        }

        // Tiles and bundles first (idempotent), then sign and commit.
        let objects: Vec<(TileId, Bytes)> = integ
            .tiles
            .iter()
            .chain(&integ.bundles)
            .map(|(id, data)| (*id, Bytes::from(data.clone())))
            .collect();
        let blobs = &self.inner.blobs;
        futures::stream::iter(objects.iter().cloned())
            .map(|(id, data)| async move { blobs.log_put(&id.path(), data).await })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        let checkpoint = Checkpoint::new(&self.inner.config.origin, integ.new_size, integ.root);
        let signer: &dyn NoteSigner = &self.inner.signer;
        let note = checkpoint.sign(&[signer])?;
        let assigned: Vec<Assigned> = batch
            .pending
            .iter()
            .zip(&integ.leaf_hashes)
            .enumerate()
            .map(|(i, (p, h))| Assigned {
                id: p.id,
                index: old_size + i as u64,
                leaf_hash: h.to_hex(),
            })
            .collect();
        let n = assigned.len();
        batch
            .commit(&assigned, integ.new_size, &integ.root.to_hex(), &note)
            .await?;

        // Committed: cache the new tiles, publish the checkpoint object,
        // drop the superseded partials.
        for (id, data) in &objects {
            self.inner.cache.insert(*id, Arc::from(&data[..]));
        }
        let head = LogHead {
            size: integ.new_size,
            root: integ.root,
            checkpoint: note.clone(),
            cosigned: None,
        };
        self.set_head(head.clone());
        self.inner.heads.send_replace(Some(head));
        if let Err(e) = blobs.log_put("checkpoint", Bytes::from(note)).await {
            tracing::warn!(error = %e, "writing log/checkpoint");
        }
        if integ.new_size > old_size {
            // Superseded: the old size's partial tiles and bundle that the new
            // size does not use. A partial tile the batch left unchanged (a
            // level-1 tile while level 0 fills up) is still needed.
            let written: std::collections::HashSet<String> = objects
                .iter()
                .map(|(id, _)| id.path())
                .chain(
                    provenant_tlog::tiles_for_size(integ.new_size)
                        .iter()
                        .map(TileId::path),
                )
                .collect();
            let mut stale = provenant_tlog::tiles_for_size(old_size)
                .into_iter()
                .filter(|id| !id.is_full())
                .collect::<Vec<_>>();
            if old_size % TILE_WIDTH != 0 {
                stale.push(TileId::entries(
                    old_size / TILE_WIDTH,
                    (old_size % TILE_WIDTH) as u16,
                ));
            }
            for id in stale {
                if !written.contains(&id.path())
                    && let Err(e) = blobs.log_delete(&id.path()).await
                {
                    tracing::warn!(error = %e, tile = %id, "deleting a superseded partial tile");
                }
            }
        }
        Ok(n)
    }
}
