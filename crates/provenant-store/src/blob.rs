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

/// Flush a directory's entries to disk.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Staging files of a local store older than this are left from a process
/// that stopped mid-upload (sessions expire after an hour idle) and are
/// removed when the store is opened.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

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
        Ok(Upload {
            declared,
            size,
            offset: 0,
            hasher: sha2::Sha256::new(),
            checksum: declared
                .is_none()
                .then(|| crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme)),
            sink: Some(sink),
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

/// The file of blob `digest` under a local store's directory.
fn local_blob_path(root: &std::path::Path, digest: &Digest) -> std::path::PathBuf {
    let hex = digest.hex();
    root.join("blobs")
        .join(digest.algorithm().name())
        .join(&hex[..2])
        .join(&hex)
}

/// What a client vouches for when it commits an upload: the digest of the
/// bytes it sent, or (having read them only once, to send them) their
/// CRC-64/NVME checksum, as S3's full-object checksums use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declaration {
    pub digest: Option<Digest>,
    pub crc64nvme: Option<u64>,
}

/// An upload in progress. Bytes are hashed as they arrive and written to a
/// staging file (a local store) or a staging multipart upload (a cloud
/// store); [`Upload::finish`] commits the blob only when the size and digest
/// match what was declared. Dropping an unfinished upload leaves nothing
/// visible (call [`Upload::abort`] to clean up eagerly).
pub struct Upload {
    /// The digest declared when the upload opened; `None` for an undeclared
    /// upload, which is declared when it commits.
    declared: Option<Digest>,
    size: u64,
    offset: u64,
    hasher: sha2::Sha256,
    /// CRC-64/NVME of the bytes so far (undeclared uploads only).
    checksum: Option<crc_fast::Digest>,
    sink: Option<Sink>,
}

enum Sink {
    Local(LocalSink),
    Remote(WriteMultipart),
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
    /// The digest declared when the upload opened (`None` if it was not).
    pub fn declared(&self) -> Option<Digest> {
        self.declared
    }

    /// SHA-256 of the bytes received so far: a client resuming an undeclared
    /// upload compares it with its own file's first [`Self::offset`] bytes.
    pub fn received_digest(&self) -> Digest {
        Digest::from_sha256_bytes(self.hasher.clone().finalize().into())
    }

    fn name(&self) -> String {
        self.declared
            .map_or_else(|| "an undeclared upload".to_owned(), |d| d.to_string())
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
                blob: self.name(),
                declared: self.size,
                received: end,
            });
        }
        match self.sink.as_mut() {
            None => return Err(StoreError::Corrupt("upload already closed".into())),
            Some(Sink::Local(sink)) => {
                // The writer thread writes this chunk while it is hashed here.
                sink.put(chunk.clone()).await?;
                self.hasher.update(&chunk);
                if let Some(c) = self.checksum.as_mut() {
                    c.update(&chunk);
                }
            }
            Some(Sink::Remote(writer)) => {
                writer.wait_for_capacity(MAX_IN_FLIGHT).await?;
                self.hasher.update(&chunk);
                writer.put(chunk);
            }
        }
        self.offset = end;
        Ok(())
    }

    /// The request that was sending bytes ended before the last one: release
    /// what serves it (a local upload's writer thread) until more arrive.
    /// Reports a write that failed meanwhile; the upload cannot go on then.
    pub async fn pause(&mut self) -> Result<(), StoreError> {
        match self.sink.as_mut() {
            Some(Sink::Local(sink)) => sink.pause().await,
            Some(Sink::Remote(_)) | None => Ok(()),
        }
    }

    /// Commit the blob if every declared byte arrived and the digest matches;
    /// otherwise drop the staged bytes and report why. A local blob is on
    /// disk (file and directory entries) before this returns: the version
    /// that names it is committed only afterwards, and a crash must not leave
    /// it naming an empty file.
    pub async fn finish(self) -> Result<Digest, StoreError> {
        self.finish_with(Declaration::default()).await
    }

    /// [`Self::finish`], with what the client declares at commit: an
    /// undeclared upload needs the digest or the checksum of its bytes; a
    /// declared one is checked against whatever is given as well.
    pub async fn finish_with(mut self, declaration: Declaration) -> Result<Digest, StoreError> {
        let sink = self
            .sink
            .take()
            .ok_or_else(|| StoreError::Corrupt("upload already closed".into()))?;
        let verdict = self.verdict(declaration);
        match (verdict, sink) {
            (Ok(actual), Sink::Local(sink)) => {
                let dest = local_blob_path(&sink.root, &actual);
                sink.commit(dest).await?;
                Ok(actual)
            }
            (Ok(actual), Sink::Remote(writer)) => {
                writer.finish().await?;
                Ok(actual)
            }
            (Err(e), sink) => {
                discard(sink).await;
                Err(e)
            }
        }
    }

    /// Whether the bytes received are the whole blob the client vouches for.
    fn verdict(&self, declaration: Declaration) -> Result<Digest, StoreError> {
        if self.offset != self.size {
            return Err(StoreError::SizeMismatch {
                blob: self.name(),
                declared: self.size,
                received: self.offset,
            });
        }
        if self.declared.is_none()
            && declaration.digest.is_none()
            && declaration.crc64nvme.is_none()
        {
            return Err(StoreError::DeclarationMissing);
        }
        let actual = self.received_digest();
        for declared in [self.declared, declaration.digest].into_iter().flatten() {
            if declared != actual {
                return Err(StoreError::DigestMismatch {
                    declared: Box::new(declared),
                    actual: Box::new(actual),
                });
            }
        }
        if let Some(declared) = declaration.crc64nvme {
            // A declared upload keeps no checksum: its digest was checked.
            if let Some(c) = &self.checksum {
                let actual = c.finalize();
                if actual != declared {
                    return Err(StoreError::ChecksumMismatch { declared, actual });
                }
            }
        }
        Ok(actual)
    }

    /// Drop the staged bytes.
    pub async fn abort(mut self) {
        if let Some(sink) = self.sink.take() {
            discard(sink).await;
        }
    }
}

async fn discard(sink: Sink) {
    match sink {
        Sink::Local(sink) => sink.discard().await,
        Sink::Remote(w) => {
            if let Err(e) = w.abort().await {
                tracing::warn!(error = %e, "aborting upload failed");
            }
        }
    }
}

/// Where a local store stages uploads, beside `blobs/` on the same disk so
/// that a commit is a rename.
const STAGING_DIR: &str = "uploads";

/// Chunks queued for a local upload's writer thread.
const LOCAL_QUEUE: usize = 16;

/// Make the 256 `blobs/sha256/<2 hex>` directories up front (flushed once),
/// so that committing a blob flushes one directory, not two.
fn make_fanout_dirs(root: &std::path::Path) -> std::io::Result<()> {
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
fn remove_stale_staging(dir: &std::path::Path) -> std::io::Result<()> {
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
fn available_space(dir: &std::path::Path) -> Option<u64> {
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
fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::FileTooLarge
            | std::io::ErrorKind::QuotaExceeded
    )
}

enum LocalMsg {
    Data(Bytes),
    /// Every byte was sent: flush the file to disk and stop.
    Commit,
}

/// What a local upload's writer thread hands back when its request ends:
/// the file, with the writeback state, for the next request to go on with.
type WriterResult = std::io::Result<Option<provenant_fs::Writeback>>;

/// A local upload: a staging file, written by a blocking thread that runs
/// only while a request sends bytes (an idle session holds no thread), with
/// writeback started along the way ([`provenant_fs::Writeback`]) so that the flush
/// at commit waits only for the last few megabytes; committed by a rename.
struct LocalSink {
    /// `None` once committed or discarded; removed on drop otherwise.
    staging: Option<std::path::PathBuf>,
    /// The store's directory: the blob's file is named when it commits.
    root: std::path::PathBuf,
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
    fn create(
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

    async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
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

    async fn pause(&mut self) -> Result<(), StoreError> {
        self.stop_writer(None).await
    }

    async fn commit(mut self, dest: std::path::PathBuf) -> Result<(), StoreError> {
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

    async fn discard(mut self) {
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
