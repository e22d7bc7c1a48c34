//! Streaming uploads: bytes hashed as they arrive, the blob committed only
//! when its size and digest match what the client declared.

use bytes::Bytes;
use object_store::WriteMultipart;
use sha2::Digest as _;

use super::local::LocalSink;
use super::local_blob_path;
use crate::{Digest, StoreError};

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

pub(super) enum Sink {
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
pub(super) const MAX_IN_FLIGHT: usize = 2;

impl Upload {
    /// A new upload of `size` bytes into `sink`.
    pub(super) fn new(declared: Option<Digest>, size: u64, sink: Sink) -> Self {
        Self {
            declared,
            size,
            offset: 0,
            hasher: sha2::Sha256::new(),
            checksum: declared
                .is_none()
                .then(|| crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme)),
            sink: Some(sink),
        }
    }

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

pub(super) async fn discard(sink: Sink) {
    match sink {
        Sink::Local(sink) => sink.discard().await,
        Sink::Remote(w) => {
            if let Err(e) = w.abort().await {
                tracing::warn!(error = %e, "aborting upload failed");
            }
        }
    }
}
