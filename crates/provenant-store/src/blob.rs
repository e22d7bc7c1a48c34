//! Content-addressed blob storage over `object_store`.
//!
//! Layout under the store's prefix: `blobs/sha256/<first two hex>/<64 hex>`.
//! A blob becomes visible only once its bytes hashed to the declared digest:
//! uploads go through a multipart upload (a staging object that `object_store`
//! completes atomically — a `#`-suffixed temporary file renamed into place on a
//! local disk, an S3/GCS/Azure multipart upload elsewhere) that is completed only
//! after the digest matched and aborted otherwise.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::Digest as _;

use crate::{Digest, StoreError};

/// Bytes read per chunk when streaming a local blob out.
const READ_CHUNK: usize = 1 << 20;

/// A local file as a stream of [`READ_CHUNK`]-byte chunks, each read on a
/// blocking thread into a buffer of its own (no copy between reads and sends).
fn file_chunks(
    file: std::fs::File,
) -> impl futures::Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
    futures::stream::try_unfold(Some(file), |file| async move {
        let Some(file) = file else {
            return Ok(None);
        };
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            use std::io::Read as _;
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            let mut limited = (&file).take(READ_CHUNK as u64);
            limited.read_to_end(&mut chunk).map(|_| (file, chunk))
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        if chunk.is_empty() {
            return Ok(None);
        }
        Ok(Some((Bytes::from(chunk), Some(file))))
    })
}

/// Flush a file and the directory entry naming it to disk.
fn flush_to_disk(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Content-addressed blob store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    /// Multipart part size: small on a local disk (bounded memory), 8 MiB for
    /// cloud stores (S3 needs parts of at least 5 MiB).
    part_size: usize,
    /// Human-readable location, for logs.
    location: String,
    /// The directory of a local store: committed blobs are flushed to disk
    /// (file and directory) before an upload reports success.
    local_root: Option<std::path::PathBuf>,
}

impl BlobStore {
    /// Open a blob store from a URL (`file:///abs/dir`, `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`) or a plain directory path.
    /// Cloud credentials come from the usual environment variables
    /// (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    pub fn open(spec: &str) -> Result<Self, StoreError> {
        if !spec.contains("://") {
            return Self::local(std::path::Path::new(spec));
        }
        let url = url::Url::parse(spec).map_err(|e| StoreError::BlobUrl {
            url: spec.to_owned(),
            reason: e.to_string(),
        })?;
        match url.scheme() {
            "file" => {
                let path = url.to_file_path().map_err(|()| StoreError::BlobUrl {
                    url: spec.to_owned(),
                    reason: "file:// URL must hold an absolute local path".into(),
                })?;
                Self::local(&path)
            }
            "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" => {
                // The cloud clients speak TLS through rustls; pick ring as its
                // crypto provider once per process (an error means one is set).
                let _ = rustls::crypto::ring::default_provider().install_default();
                let env = std::env::vars().filter_map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    (lower.starts_with("aws_")
                        || lower.starts_with("google_")
                        || lower.starts_with("azure_"))
                    .then_some((lower, v))
                });
                let (store, prefix) =
                    object_store::parse_url_opts(&url, env).map_err(|e| StoreError::BlobUrl {
                        url: spec.to_owned(),
                        reason: e.to_string(),
                    })?;
                Ok(Self {
                    store: Arc::from(store),
                    prefix,
                    part_size: 8 << 20,
                    location: spec.to_owned(),
                    local_root: None,
                })
            }
            other => Err(StoreError::BlobUrl {
                url: spec.to_owned(),
                reason: format!(
                    "unknown scheme {other:?} (use a path, file://, s3://, gs:// or az://)"
                ),
            }),
        }
    }

    /// A blob store in a local directory, created if missing.
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(store),
            prefix: ObjPath::default(),
            part_size: 2 << 20,
            location: dir.display().to_string(),
            local_root: Some(dir.to_path_buf()),
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn blob_path(&self, digest: &Digest) -> ObjPath {
        let hex = digest.hex();
        let mut path = self.prefix.clone();
        for part in ["blobs", "sha256", &hex[..2], &hex] {
            path = path.clone().join(part);
        }
        path
    }

    /// Where a local store keeps the blob (the same file as [`Self::blob_path`]).
    fn local_path(&self, digest: &Digest) -> Option<std::path::PathBuf> {
        self.local_root.as_ref().map(|root| {
            let hex = digest.hex();
            root.join("blobs").join("sha256").join(&hex[..2]).join(&hex)
        })
    }

    /// The blob's size if it is stored.
    pub async fn size(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        // A local store answers with one stat on this thread (the directory
        // entries of recent blobs are cached) rather than a hand-off to a
        // blocking thread; publishing checks every file's blob this way.
        if let Some(path) = self.local_path(digest) {
            return match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
                Ok(_) => Err(StoreError::Corrupt(format!(
                    "{} is not a file",
                    path.display()
                ))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        match self.store.head(&self.blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stream a blob's bytes. Returns its size and the byte stream.
    pub async fn get(
        &self,
        digest: &Digest,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, StoreError>>), StoreError> {
        let result = match self.store.get(&self.blob_path(digest)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StoreError::BlobNotFound(*digest));
            }
            Err(e) => return Err(e.into()),
        };
        let size = result.meta.size;
        let stream = match result.payload {
            // object_store reads local files 8 KiB at a time; read 1 MiB
            // chunks instead, each straight into the buffer that is sent.
            GetResultPayload::File(file, _) => file_chunks(file).boxed(),
            GetResultPayload::Stream(s) => s.map(|r| r.map_err(StoreError::from)).boxed(),
        };
        Ok((size, stream))
    }

    /// Read a whole (small) blob into memory. Callers use this only for
    /// manifests and configs, whose size they bound.
    pub async fn get_bytes(&self, digest: &Digest) -> Result<Bytes, StoreError> {
        match self.store.get(&self.blob_path(digest)).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::BlobNotFound(*digest)),
            Err(e) => Err(e.into()),
        }
    }

    /// Store a small blob held in memory; returns its digest.
    pub async fn put_bytes(&self, data: Bytes) -> Result<Digest, StoreError> {
        let digest = Digest::of(&data);
        let mut up = self.begin_upload(digest, data.len() as u64).await?;
        up.write(0, data).await?;
        up.finish().await
    }

    /// Start a streaming upload of a blob whose digest and size the client declares.
    pub async fn begin_upload(&self, declared: Digest, size: u64) -> Result<Upload, StoreError> {
        let location = self.blob_path(&declared);
        let multipart = self.store.put_multipart(&location).await?;
        Ok(Upload {
            declared,
            size,
            durable_at: self.local_path(&declared),
            offset: 0,
            hasher: sha2::Sha256::new(),
            writer: Some(WriteMultipart::new_with_chunk_size(
                multipart,
                self.part_size,
            )),
        })
    }

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

    /// Remove a blob (used by tests and garbage collection).
    pub async fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        match self.store.delete(&self.blob_path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// An upload in progress. Bytes are hashed as they arrive and written to a
/// staging multipart upload; [`Upload::finish`] completes it only when the
/// size and digest match what was declared. Dropping an unfinished upload
/// leaves nothing visible (call [`Upload::abort`] to clean up eagerly).
pub struct Upload {
    declared: Digest,
    size: u64,
    /// Local stores: the committed file, flushed to disk before `finish` returns.
    durable_at: Option<std::path::PathBuf>,
    offset: u64,
    hasher: sha2::Sha256,
    writer: Option<WriteMultipart>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("declared", &self.declared)
            .field("size", &self.size)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// In-flight parts per upload: bounds memory to about `(1 + MAX_IN_FLIGHT) * part_size`.
const MAX_IN_FLIGHT: usize = 2;

impl Upload {
    pub fn declared(&self) -> Digest {
        self.declared
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes received and hashed so far; a resumed upload continues here.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Append `chunk`, which the client says starts at byte `at`.
    pub async fn write(&mut self, at: u64, chunk: Bytes) -> Result<(), StoreError> {
        if at != self.offset {
            return Err(StoreError::OffsetMismatch {
                expected: self.offset,
                given: at,
            });
        }
        let end = self.offset + chunk.len() as u64;
        if end > self.size {
            return Err(StoreError::SizeMismatch {
                digest: self.declared,
                declared: self.size,
                received: end,
            });
        }
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("upload already closed".into()))?;
        writer.wait_for_capacity(MAX_IN_FLIGHT).await?;
        self.hasher.update(&chunk);
        writer.put(chunk);
        self.offset = end;
        Ok(())
    }

    /// Commit the blob if every declared byte arrived and the digest matches;
    /// otherwise abort the staging upload and report why.
    pub async fn finish(mut self) -> Result<Digest, StoreError> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| StoreError::Corrupt("upload already closed".into()))?;
        if self.offset != self.size {
            let _ = writer.abort().await;
            return Err(StoreError::SizeMismatch {
                digest: self.declared,
                declared: self.size,
                received: self.offset,
            });
        }
        let actual = Digest::from_bytes(self.hasher.clone().finalize().into());
        if actual != self.declared {
            let _ = writer.abort().await;
            return Err(StoreError::DigestMismatch {
                declared: self.declared,
                actual,
            });
        }
        writer.finish().await?;
        if let Some(path) = self.durable_at.take() {
            // The version that will name this blob is committed only after
            // this returns: its bytes must be on disk first, or a crash could
            // leave a published version whose file is empty.
            tokio::task::spawn_blocking(move || flush_to_disk(&path))
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        }
        Ok(actual)
    }

    /// Drop the staging upload.
    pub async fn abort(mut self) {
        if let Some(w) = self.writer.take()
            && let Err(e) = w.abort().await
        {
            tracing::warn!(error = %e, "aborting upload failed");
        }
    }
}
