//! The local fast paths of a blob store in a directory: staging files
//! written by a blocking thread with writeback along the way, committed by
//! a rename; the fan-out directories; stale staging files; free space.

use std::sync::Arc;

use bytes::Bytes;

use crate::StoreError;

/// Flush a directory's entries to disk.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Staging files of a local store older than this are left from a process
/// that stopped mid-upload (sessions expire after an hour idle) and are
/// removed when the store is opened.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// Where a local store stages uploads, beside `blobs/` on the same disk so
/// that a commit is a rename.
pub(super) const STAGING_DIR: &str = "uploads";

/// Chunks queued for a local upload's writer thread.
pub(super) const LOCAL_QUEUE: usize = 16;

/// Make the 256 `blobs/sha256/<2 hex>` directories up front (flushed once),
/// so that committing a blob flushes one directory, not two.
pub(super) fn make_fanout_dirs(root: &std::path::Path) -> std::io::Result<()> {
    let sha = root.join("blobs").join("sha256");
    let mut made = false;
    for i in 0..=255u8 {
        let dir = sha.join(format!("{i:02x}"));
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            made = true;
        }
    }
    if made {
        sync_dir(&sha)?;
        sync_dir(&root.join("blobs"))?;
        sync_dir(root)?;
    }
    Ok(())
}

/// Remove staging files older than [`STALE_STAGING`].
pub(super) fn remove_stale_staging(dir: &std::path::Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGING);
        if stale && entry.file_type()?.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(path = %entry.path().display(), "removed a stale upload"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Bytes free for an unprivileged writer on the filesystem holding `dir`
/// (`None` where that cannot be told).
pub(super) fn available_space(dir: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::fs::statvfs(dir)
            .ok()
            .map(|st| st.f_bavail.saturating_mul(st.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// A disk that is full (or a quota spent) while a blob is written.
pub(super) fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::FileTooLarge
            | std::io::ErrorKind::QuotaExceeded
    )
}

pub(super) enum LocalMsg {
    Data(Bytes),
    /// Every byte was sent: flush the file to disk and stop.
    Commit,
}

/// What a local upload's writer thread hands back when its request ends:
/// the file, with the writeback state, for the next request to go on with.
pub(super) type WriterResult = std::io::Result<Option<provenant_fs::Writeback>>;

/// A local upload: a staging file, written by a blocking thread that runs
/// only while a request sends bytes (an idle session holds no thread), with
/// writeback started along the way ([`provenant_fs::Writeback`]) so that the flush
/// at commit waits only for the last few megabytes; committed by a rename.
pub(super) struct LocalSink {
    /// `None` once committed or discarded; removed on drop otherwise.
    staging: Option<std::path::PathBuf>,
    /// The store's directory: the blob's file is named when it commits.
    pub(super) root: std::path::PathBuf,
    size: u64,
    /// The file between requests; `None` while a writer runs, or once a
    /// write failed.
    idle: Option<provenant_fs::Writeback>,
    /// Whether the disk space was reserved yet (on the first bytes, not when
    /// the session opens: an idle session reserves nothing).
    reserved: bool,
    writer: Option<(
        tokio::sync::mpsc::Sender<LocalMsg>,
        tokio::task::JoinHandle<WriterResult>,
    )>,
    /// The store's location, for a full disk's error.
    location: String,
}

impl LocalSink {
    pub(super) fn create(
        staging: std::path::PathBuf,
        root: std::path::PathBuf,
        size: u64,
        location: String,
    ) -> Result<Self, StoreError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)?;
        Ok(Self {
            staging: Some(staging),
            root,
            size,
            idle: Some(provenant_fs::Writeback::new(Arc::new(file))),
            reserved: false,
            writer: None,
            location,
        })
    }

    fn map_err(&self, e: std::io::Error) -> StoreError {
        if is_out_of_space(&e) {
            StoreError::InsufficientStorage {
                size: self.size,
                location: self.location.clone(),
            }
        } else {
            StoreError::Io(e)
        }
    }

    /// The running writer's sender, starting one if none runs.
    fn sender(&mut self) -> Result<tokio::sync::mpsc::Sender<LocalMsg>, StoreError> {
        if let Some((tx, _)) = &self.writer {
            return Ok(tx.clone());
        }
        let out = self.idle.take().ok_or_else(|| {
            StoreError::Io(std::io::Error::other(
                "an earlier write of this upload failed",
            ))
        })?;
        let reserve = (!self.reserved).then_some(self.size);
        self.reserved = true;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<LocalMsg>(LOCAL_QUEUE);
        let handle = tokio::task::spawn_blocking(move || -> WriterResult {
            let mut out = out;
            if let Some(size) = reserve {
                provenant_fs::preallocate(out.file(), size)?;
            }
            let mut batch = Vec::new();
            while let Some(msg) = rx.blocking_recv() {
                let mut commit = false;
                let mut next = Some(msg);
                // Take whatever else is queued: one vectored write for all.
                while let Some(msg) = next.take() {
                    match msg {
                        LocalMsg::Data(b) => batch.push(b),
                        LocalMsg::Commit => commit = true,
                    }
                    if !commit && batch.len() < LOCAL_QUEUE {
                        next = rx.try_recv().ok();
                    }
                }
                let n = provenant_fs::write_all_vectored(out.file(), &batch)?;
                batch.clear();
                out.wrote(n)?;
                if commit {
                    out.finish()?;
                    return Ok(None);
                }
            }
            // The request ended: hand the file back for the next one.
            Ok(Some(out))
        });
        self.writer = Some((tx.clone(), handle));
        Ok(tx)
    }

    /// Stop the running writer (after it wrote what it was sent) and keep
    /// what it hands back.
    async fn stop_writer(&mut self, last: Option<LocalMsg>) -> Result<(), StoreError> {
        let Some((tx, handle)) = self.writer.take() else {
            return Ok(());
        };
        if let Some(msg) = last {
            // A send fails only when the writer stopped; its result says why.
            let _ = tx.send(msg).await;
        }
        drop(tx);
        match handle.await {
            Ok(Ok(out)) => {
                self.idle = out;
                Ok(())
            }
            Ok(Err(e)) => Err(self.map_err(e)),
            Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
        }
    }

    pub(super) async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let tx = self.sender()?;
        if tx.send(LocalMsg::Data(chunk)).await.is_ok() {
            return Ok(());
        }
        // The writer stopped: report why.
        self.stop_writer(None).await?;
        Err(StoreError::Io(std::io::Error::other(
            "the upload's writer stopped",
        )))
    }

    pub(super) async fn pause(&mut self) -> Result<(), StoreError> {
        self.stop_writer(None).await
    }

    pub(super) async fn commit(mut self, dest: std::path::PathBuf) -> Result<(), StoreError> {
        self.sender()?;
        self.stop_writer(Some(LocalMsg::Commit)).await?;
        let staging = self
            .staging
            .take()
            .ok_or_else(|| StoreError::Corrupt("upload already committed".into()))?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let Some(dir) = dest.parent() else {
                return Err(std::io::Error::other("blob path without a directory"));
            };
            let new_dir = !dir.is_dir();
            if new_dir {
                std::fs::create_dir_all(dir)?;
            }
            if let Err(e) = std::fs::rename(&staging, &dest) {
                let _ = std::fs::remove_file(&staging);
                return Err(e);
            }
            // The blob's directory entry is flushed too, and that directory's
            // own entry when it was just made.
            sync_dir(dir)?;
            match dir.parent() {
                Some(up) if new_dir => sync_dir(up),
                _ => Ok(()),
            }
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        Ok(())
    }

    pub(super) async fn discard(mut self) {
        let _ = self.stop_writer(None).await;
        self.idle = None;
        if let Some(staging) = self.staging.take()
            && let Err(e) = tokio::fs::remove_file(&staging).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %staging.display(), error = %e, "removing a staged upload failed");
        }
    }
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take()
            && let Err(e) = std::fs::remove_file(&staging)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %staging.display(), error = %e, "removing a staged upload failed");
        }
    }
}
