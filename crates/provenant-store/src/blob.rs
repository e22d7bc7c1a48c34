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

use crate::{Digest, StoreError};

mod local;
mod log_objects;
mod upload;

use local::{LocalSink, STAGING_DIR, available_space, make_fanout_dirs, remove_stale_staging};
use upload::Sink;
pub use upload::{Declaration, Upload};

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
        let staging = dir.join(STAGING_DIR);
        std::fs::create_dir_all(&staging)?;
        remove_stale_staging(&staging)?;
        make_fanout_dirs(dir)?;
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
        for part in ["blobs", digest.algorithm().name(), &hex[..2], &hex] {
            path = path.clone().join(part);
        }
        path
    }

    /// Where a local store keeps the blob (the same file as [`Self::blob_path`]).
    fn local_path(&self, digest: &Digest) -> Option<std::path::PathBuf> {
        self.local_root
            .as_ref()
            .map(|root| local_blob_path(root, digest))
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
            GetResultPayload::File(file, _) => provenant_fs::file_chunks(file, size)
                .map(|r| r.map_err(StoreError::Io))
                .boxed(),
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
        let digest = Digest::sha256(&data);
        let mut up = self.begin_upload(digest, data.len() as u64).await?;
        up.write(0, data).await?;
        up.finish().await
    }

    /// Start a streaming upload of a blob whose digest and size the client declares.
    pub async fn begin_upload(&self, declared: Digest, size: u64) -> Result<Upload, StoreError> {
        self.start_upload(Some(declared), size).await
    }

    /// Whether [`Self::begin_undeclared_upload`] is available: a local store
    /// names the blob when it commits; a cloud store needs the name up front.
    pub fn accepts_undeclared(&self) -> bool {
        self.local_root.is_some()
    }

    /// Start a streaming upload of `size` bytes whose digest the client does
    /// not know yet: it hashes them while they flow and declares the digest,
    /// or a CRC-64/NVME checksum of them, when it commits
    /// ([`Upload::finish_with`]). The bytes are read once on each side.
    pub async fn begin_undeclared_upload(&self, size: u64) -> Result<Upload, StoreError> {
        if !self.accepts_undeclared() {
            return Err(StoreError::DigestRequired {
                location: self.location.clone(),
            });
        }
        self.start_upload(None, size).await
    }

    async fn start_upload(
        &self,
        declared: Option<Digest>,
        size: u64,
    ) -> Result<Upload, StoreError> {
        let sink = match (&self.local_root, declared) {
            (Some(root), _) => {
                let staging = root
                    .join(STAGING_DIR)
                    .join(uuid::Uuid::new_v4().simple().to_string());
                if available_space(root).is_some_and(|free| size > free) {
                    return Err(StoreError::InsufficientStorage {
                        size,
                        location: self.location.clone(),
                    });
                }
                Sink::Local(LocalSink::create(
                    staging,
                    root.clone(),
                    size,
                    self.location.clone(),
                )?)
            }
            (None, Some(declared)) => {
                let multipart = self.store.put_multipart(&self.blob_path(&declared)).await?;
                Sink::Remote(WriteMultipart::new_with_chunk_size(
                    multipart,
                    self.part_size,
                ))
            }
            (None, None) => {
                return Err(StoreError::DigestRequired {
                    location: self.location.clone(),
                });
            }
        };
        Ok(Upload::new(declared, size, sink))
    }

    /// Remove a blob (used by tests and garbage collection).
    pub async fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        match self.store.delete(&self.blob_path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The file of blob `digest` under a local store's directory.
fn local_blob_path(root: &std::path::Path, digest: &Digest) -> std::path::PathBuf {
    let hex = digest.hex();
    root.join("blobs")
        .join(digest.algorithm().name())
        .join(&hex[..2])
        .join(&hex)
}
