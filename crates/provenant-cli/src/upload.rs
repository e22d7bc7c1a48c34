//! The client of the registry's resumable upload protocol
//! (`/api/v1/uploads`), for any command that sends blobs.
//!
//! A blob whose digest is known is uploaded *declared*: a session opened with
//! its digest and size (or none, when the server already holds it), then
//! `PATCH` requests from the offset the server reports, resuming after
//! transient failures. A large file the server cannot hold (its size matches
//! no blob of the server's, asked for in an upload [`Plan`]) is read once: an
//! *undeclared* session (or one an earlier run left, if the file's first
//! bytes are what it received), then a commit declaring the CRC-64/NVME of
//! the bytes sent, answered with the blob's digest.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use indicatif::ProgressBar;
use provenant_api::{ErrorCode, UploadPlan, UploadStatus};
use reqwest::Method;

use crate::client::{ApiFailure, Client};
use crate::hashing::{self, HashedFile, LocalFile};
use provenant_digest::{Digest, DigestAlgorithm};

/// What uploading one blob did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Bytes were sent (the server did not hold the blob already).
    pub uploaded: bool,
    /// The upload continued a session (after a failure, or from an earlier run).
    pub resumed: bool,
    /// The file was read once, hashed by the server as it arrived.
    pub read_once: bool,
    /// Bytes sent.
    pub bytes: u64,
}

/// Files at least this large are read once when the server cannot hold them
/// (their size matches no blob of its); smaller ones are hashed first, which
/// costs little and finds any copy the server has.
const READ_ONCE_MIN: u64 = 8 << 20;

/// Which files to read once, and which undeclared sessions wait to be resumed.
pub struct Plan {
    undeclared: bool,
    /// Sizes of large files no blob on the server has. Two files of this
    /// push may share one (equal-size shards, adapters of one architecture):
    /// both are read once, and were they the same bytes, the second upload
    /// is the price.
    once_sizes: HashSet<u64>,
    resumable: Vec<UploadStatus>,
    /// Sessions a file of this push has taken (or is checking).
    claimed: std::sync::Mutex<HashSet<String>>,
}

/// Sizes a plan asks about per request (the server's limit).
const PLAN_BATCH: usize = 10_000;

impl Plan {
    /// Hash every file first.
    pub fn none() -> Self {
        Self {
            undeclared: false,
            once_sizes: HashSet::new(),
            resumable: Vec::new(),
            claimed: std::sync::Mutex::new(HashSet::new()),
        }
    }

    /// Asks the server which of the large files' sizes it holds blobs of and
    /// which undeclared sessions are open; a server without plans (404/405)
    /// or that takes no undeclared uploads gets every file hashed first.
    pub async fn fetch(client: &Client, files: &[LocalFile]) -> anyhow::Result<Self> {
        let mut sizes: Vec<u64> = files
            .iter()
            .filter(|f| f.size >= READ_ONCE_MIN)
            .map(|f| f.size)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mut plan = Self::none();
        let mut held = HashSet::new();
        for batch in sizes.chunks(PLAN_BATCH) {
            let reply: Result<(_, UploadPlan), _> = client
                .send_json(
                    Method::POST,
                    "api/v1/uploads/plan",
                    &provenant_api::UploadPlanRequest {
                        sizes: batch.to_vec(),
                    },
                )
                .await;
            let answer = match reply {
                Ok((_, answer)) => answer,
                // A server without plans: hash everything first, as it expects.
                Err(e) if api_failure(&e).is_some_and(|f| f.status == 404 || f.status == 405) => {
                    return Ok(Self::none());
                }
                Err(e) => return Err(e.context("planning the upload")),
            };
            if !answer.undeclared {
                return Ok(Self::none());
            }
            held.extend(answer.held_sizes);
            plan.resumable.extend(answer.resumable);
        }
        plan.undeclared = !sizes.is_empty();
        plan.once_sizes = sizes.into_iter().filter(|s| !held.contains(s)).collect();
        Ok(plan)
    }

    /// Whether `f` is read once (uploaded undeclared) rather than hashed first.
    pub fn read_once(&self, f: &LocalFile) -> bool {
        self.undeclared && self.once_sizes.contains(&f.size)
    }

    fn claim(&self, id: &str) -> bool {
        self.claimed
            .lock()
            .is_ok_and(|mut c| c.insert(id.to_owned()))
    }
}

/// Size and modification time: a file that changes while it is read once
/// would be stored torn, so the push stops instead.
fn stamp(path: &Path) -> anyhow::Result<(u64, Option<std::time::SystemTime>)> {
    let m = std::fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    Ok((m.len(), m.modified().ok()))
}

fn crc64nvme() -> crc_fast::Digest {
    crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme)
}

/// How often the CRC of what was sent is kept along the way: a retry from an
/// earlier offset than the stream reached re-reads at most this much.
const CRC_SNAPSHOT_EVERY: u64 = 64 << 20;

/// The CRC-64/NVME of a file's bytes `[0, pos)`, as one request streams them.
struct CrcRun {
    pos: u64,
    crc: crc_fast::Digest,
    /// `(offset, CRC of [0, offset))` every [`CRC_SNAPSHOT_EVERY`] bytes.
    snapshots: Vec<(u64, crc_fast::Digest)>,
}

impl CrcRun {
    fn new(pos: u64, crc: crc_fast::Digest) -> Self {
        Self {
            pos,
            crc,
            snapshots: Vec::new(),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.crc.update(chunk);
        self.pos += chunk.len() as u64;
        let last = self.snapshots.last().map_or(0, |s| s.0);
        if self.pos - last >= CRC_SNAPSHOT_EVERY {
            self.snapshots.push((self.pos, self.crc));
        }
    }
}

/// Every CRC state of a file known so far, by offset: the start of each
/// request, its snapshots and where its stream stopped. Each is the CRC of
/// the file's bytes up to there as read, whatever the server kept of them.
#[derive(Default)]
struct CrcStates(std::collections::BTreeMap<u64, crc_fast::Digest>);

impl CrcStates {
    fn keep(&mut self, run: &CrcRun) {
        for (at, crc) in &run.snapshots {
            self.0.insert(*at, *crc);
        }
        self.0.insert(run.pos, run.crc);
    }

    /// The CRC of `[0, at)`: from the nearest state at or below `at`, reading
    /// only the gap.
    async fn at(&self, path: &Path, at: u64) -> anyhow::Result<crc_fast::Digest> {
        let (from, crc) = self
            .0
            .range(..=at)
            .next_back()
            .map_or((0, crc64nvme()), |(k, v)| (*k, *v));
        if from == at {
            return Ok(crc);
        }
        let (crc, _) = scan(path.to_path_buf(), from, at, crc, None, Vec::new()).await?;
        Ok(crc)
    }
}

/// Read `[from, to)` of a file, folding it into `crc` (and into `sha`, which
/// then must have seen `[0, from)`), and note both at each offset of `marks`
/// (ascending, within the span).
async fn scan(
    path: std::path::PathBuf,
    from: u64,
    to: u64,
    mut crc: crc_fast::Digest,
    mut sha: Option<sha2::Sha256>,
    marks: Vec<u64>,
) -> anyhow::Result<(
    crc_fast::Digest,
    Vec<(u64, Option<Digest>, crc_fast::Digest)>,
)> {
    use sha2::Digest as _;
    use std::io::{Read as _, Seek as _};
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.seek(std::io::SeekFrom::Start(from))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = from;
        let mut noted = Vec::with_capacity(marks.len());
        let mut marks = marks.into_iter().peekable();
        loop {
            while let Some(&m) = marks.peek().filter(|&&m| m <= pos) {
                marks.next();
                let digest = sha
                    .as_ref()
                    .map(|h| Digest::from_sha256_bytes(h.clone().finalize().into()));
                noted.push((m, digest, crc));
            }
            if pos >= to {
                break;
            }
            let stop = marks.peek().copied().unwrap_or(to).min(to);
            let want = usize::try_from((stop - pos).min(buf.len() as u64)).unwrap_or(buf.len());
            let n = file
                .read(&mut buf[..want])
                .with_context(|| format!("cannot read {}", path.display()))?;
            anyhow::ensure!(n > 0, "{} shrank while it was pushed", path.display());
            if let Some(h) = sha.as_mut() {
                h.update(&buf[..n]);
            }
            crc.update(&buf[..n]);
            pos += n as u64;
        }
        Ok((crc, noted))
    })
    .await?
}

/// An undeclared session an earlier push of this file left: the one with
/// the most bytes whose received digest is that of the file's first bytes.
/// One read of the file's prefix checks every candidate.
async fn resumable_session(
    f: &LocalFile,
    plan: &Plan,
) -> anyhow::Result<Option<(String, u64, crc_fast::Digest)>> {
    let mut cands: Vec<(u64, &str, &Digest)> = plan
        .resumable
        .iter()
        .filter(|s| s.size == f.size && s.offset > 0 && s.offset <= f.size)
        .filter_map(|s| Some((s.offset, s.id.as_deref()?, s.received_digest.as_ref()?)))
        .collect();
    if cands.is_empty() {
        return Ok(None);
    }
    cands.sort_unstable();
    let marks: Vec<u64> = cands.iter().map(|c| c.0).collect();
    let to = marks.last().copied().unwrap_or(0);
    let (_, noted) = scan(
        f.abs.clone(),
        0,
        to,
        crc64nvme(),
        Some(<sha2::Sha256 as sha2::Digest>::new()),
        marks,
    )
    .await?;
    for ((offset, id, received), (_, prefix, crc)) in cands.iter().zip(noted).rev() {
        if prefix.as_ref() == Some(*received) && plan.claim(id) {
            return Ok(Some(((*id).to_owned(), *offset, crc)));
        }
    }
    Ok(None)
}

async fn open_undeclared(client: &Client, size: u64) -> anyhow::Result<String> {
    let (_, st): (_, UploadStatus) = client
        .send_json(
            Method::POST,
            "api/v1/uploads",
            &provenant_api::NewUpload { digest: None, size },
        )
        .await?;
    st.id.context("server opened an upload without an id")
}

/// Upload a file read once: an undeclared session (or one an earlier push
/// left, when the file's first bytes are what it received), then the commit
/// declaring the checksum of the bytes sent. Returns the blob's digest.
pub async fn upload_once(
    client: &Client,
    f: &LocalFile,
    plan: &Plan,
    pb: &ProgressBar,
) -> anyhow::Result<(Outcome, Digest)> {
    let before = stamp(&f.abs)?;
    anyhow::ensure!(
        before.0 == f.size,
        "{} changed size while it was pushed",
        f.rel
    );
    let mut states = CrcStates::default();
    let (mut id, mut offset) = match resumable_session(f, plan).await? {
        Some((id, offset, crc)) => {
            states.keep(&CrcRun::new(offset, crc));
            (id, offset)
        }
        None => (open_undeclared(client, f.size).await?, 0),
    };
    let mut out = Outcome {
        uploaded: true,
        resumed: offset > 0,
        read_once: true,
        bytes: 0,
    };
    pb.inc(offset);
    let mut attempts = 0u32;
    while offset < f.size {
        // Each request folds what it streams into a CRC of its own: a body
        // the client gave up on cannot touch the next one's.
        let run = std::sync::Arc::new(std::sync::Mutex::new(CrcRun::new(
            offset,
            states.at(&f.abs, offset).await?,
        )));
        let sent = patch(client, &id, f, offset, pb, Some(&run)).await;
        let streamed_to = match run.lock() {
            Ok(run) => {
                states.keep(&run);
                run.pos
            }
            Err(_) => bail!("checksum state poisoned"),
        };
        let at = match sent {
            Ok(st) => st.offset,
            Err(e) => {
                back_off(e, &mut attempts, f).await?;
                out.resumed = true;
                match client
                    .get_json::<UploadStatus>(&format!("api/v1/uploads/{id}"))
                    .await
                {
                    Ok(st) => st.offset,
                    // The session is gone (expired, or closed by a failed
                    // write): start over in a new one.
                    Err(e) if is_not_found(&e) => {
                        id = open_undeclared(client, f.size).await?;
                        0
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if at > streamed_to {
            // Bytes this push did not send: the session is not ours to
            // finish. Start over in a new one.
            tracing::warn!(file = %f.rel, "upload session moved on without this push; starting again");
            id = open_undeclared(client, f.size).await?;
            offset = 0;
            continue;
        }
        out.bytes += at.saturating_sub(offset);
        offset = at;
    }
    if stamp(&f.abs)? != before {
        let _ = client
            .send(client.request(Method::DELETE, &format!("api/v1/uploads/{id}"))?)
            .await;
        bail!(
            "{} changed (size or modification time) while it was pushed; push it again",
            f.rel
        );
    }
    let checksum = states.at(&f.abs, f.size).await?.finalize();
    let committed: anyhow::Result<(_, UploadStatus)> = client
        .send_json(
            Method::PUT,
            &format!("api/v1/uploads/{id}"),
            &provenant_api::CommitUpload {
                digest: None,
                checksum: Some(format!("crc64nvme:{checksum:016x}")),
            },
        )
        .await;
    let digest = match committed {
        Ok((_, st)) => st
            .digest
            .filter(|d| d.algorithm() == DigestAlgorithm::Sha256)
            .context("server committed the upload without naming its digest")?,
        Err(e) if is_verdict(&e) => {
            return Err(e.context(format!(
                "the server received other bytes than {} holds",
                f.rel
            )));
        }
        Err(e) => {
            // The commit's answer was lost (it may have committed) or the
            // session is gone: hash the file and upload it declared, which
            // finds the blob if the commit went through.
            tracing::warn!(file = %f.rel, error = %format!("{e:#}"), "committing the upload failed; hashing the file and uploading it by digest");
            let path = f.abs.clone();
            let digest =
                tokio::task::spawn_blocking(move || hashing::hash_file(&path, &|_| {})).await??;
            let declared = HashedFile {
                file: f.clone(),
                digest,
            };
            let again = upload_blob(client, &declared, &ProgressBar::hidden()).await?;
            out.bytes += again.bytes;
            digest
        }
    };
    Ok((out, digest))
}

fn api_failure(e: &anyhow::Error) -> Option<&ApiFailure> {
    e.chain().find_map(|c| c.downcast_ref::<ApiFailure>())
}

/// The upload session is gone (expired, or closed by a failed write).
fn is_not_found(e: &anyhow::Error) -> bool {
    api_failure(e).is_some_and(|f| f.is(ErrorCode::UploadNotFound))
}

/// The server checked the bytes against the declaration and they differ.
fn is_verdict(e: &anyhow::Error) -> bool {
    api_failure(e).is_some_and(|f| {
        matches!(
            f.code,
            Some(ErrorCode::ChecksumMismatch | ErrorCode::DigestMismatch)
        )
    })
}

/// After a failed request: give the error back if retrying cannot mend it
/// or five retries did not, else wait longer each time before the next.
async fn back_off(e: anyhow::Error, attempts: &mut u32, f: &LocalFile) -> anyhow::Result<()> {
    *attempts += 1;
    if is_permanent(&e) || *attempts > 5 {
        return Err(e);
    }
    tracing::warn!(file = %f.rel, error = %format!("{e:#}"), attempt = *attempts, "upload interrupted; resuming");
    tokio::time::sleep(Duration::from_millis(
        200 * u64::from(*attempts * *attempts),
    ))
    .await;
    Ok(())
}

/// An error that retrying cannot mend (a client error other than a conflict).
fn is_permanent(e: &anyhow::Error) -> bool {
    api_failure(e).is_some_and(|f| f.status != 409 && f.status < 500)
}

/// Upload one blob, resuming after transient failures from the offset the server reports.
pub async fn upload_blob(
    client: &Client,
    blob: &HashedFile,
    pb: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let f = &blob.file;
    let (_, st): (_, UploadStatus) = client
        .send_json(
            Method::POST,
            "api/v1/uploads",
            &provenant_api::NewUpload {
                digest: Some(blob.digest.to_string()),
                size: f.size,
            },
        )
        .await?;
    if st.complete {
        pb.inc(f.size);
        return Ok(Outcome::default());
    }
    let id = st.id.context("server opened an upload without an id")?;
    let mut out = Outcome {
        uploaded: true,
        resumed: st.offset > 0,
        bytes: 0,
        ..Outcome::default()
    };
    let mut offset = st.offset;
    pb.inc(offset);
    let mut attempts = 0u32;
    loop {
        match patch(client, &id, f, offset, pb, None).await {
            Ok(st) if st.complete => {
                out.bytes += f.size - offset;
                return Ok(out);
            }
            Ok(st) => {
                out.bytes += st.offset.saturating_sub(offset);
                offset = st.offset;
            }
            Err(e) => {
                back_off(e, &mut attempts, f).await?;
                let st: UploadStatus = client.get_json(&format!("api/v1/uploads/{id}")).await?;
                out.bytes += st.offset.saturating_sub(offset);
                offset = st.offset;
                out.resumed = true;
            }
        }
    }
}

/// Send the file from `offset` on, folding what is sent into `crc` if given.
async fn patch(
    client: &Client,
    id: &str,
    f: &LocalFile,
    offset: u64,
    pb: &ProgressBar,
    crc: Option<&std::sync::Arc<std::sync::Mutex<CrcRun>>>,
) -> anyhow::Result<UploadStatus> {
    use std::io::Seek as _;
    let mut file =
        std::fs::File::open(&f.abs).with_context(|| format!("cannot open {}", f.abs.display()))?;
    file.seek(std::io::SeekFrom::Start(offset))?;
    let remaining = f.size - offset;
    let pb = pb.clone();
    let crc = crc.cloned();
    let stream = provenant_fs::file_chunks(file, remaining).inspect(move |c| {
        if let Ok(c) = c {
            if let Some(crc) = &crc
                && let Ok(mut crc) = crc.lock()
            {
                crc.update(c);
            }
            pb.inc(c.len() as u64);
        }
    });
    let rb = client
        .request(Method::PATCH, &format!("api/v1/uploads/{id}"))?
        .header("Upload-Offset", offset.to_string())
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(reqwest::header::CONTENT_LENGTH, remaining.to_string())
        .body(reqwest::Body::wrap_stream(stream));
    let resp = client.send(rb).await?;
    Ok(resp.json().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc_of(data: &[u8]) -> u64 {
        let mut c = crc64nvme();
        c.update(data);
        c.finalize()
    }

    fn sha_of(data: &[u8]) -> Digest {
        Digest::sha256(data)
    }

    fn file_of(data: &[u8]) -> (tempfile::TempDir, LocalFile) {
        let d = tempfile::tempdir().unwrap();
        let abs = d.path().join("w.bin");
        std::fs::write(&abs, data).unwrap();
        let f = LocalFile {
            rel: "w.bin".into(),
            abs,
            size: data.len() as u64,
        };
        (d, f)
    }

    const MIB: usize = 1 << 20;

    fn data() -> Vec<u8> {
        (0..3 * MIB + 123)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    #[tokio::test]
    async fn the_crc_of_a_prefix_comes_from_the_nearest_state_below() {
        let data = data();
        let (_d, f) = file_of(&data);
        let mut states = CrcStates::default();
        // Nothing known: read from the start.
        let at = 2 * MIB + 5;
        assert_eq!(
            states.at(&f.abs, at as u64).await.unwrap().finalize(),
            crc_of(&data[..at])
        );
        // A request streamed from 1 MiB in uneven chunks, stopping short.
        let mut run = CrcRun::new(MIB as u64, {
            let mut c = crc64nvme();
            c.update(&data[..MIB]);
            c
        });
        for chunk in data[MIB..2 * MIB + 77].chunks(100_003) {
            run.update(chunk);
        }
        states.keep(&run);
        assert_eq!(run.pos, (2 * MIB + 77) as u64);
        // The server kept less, or exactly what was streamed, or (later) more.
        for at in [0, 10, MIB, MIB + 1, 2 * MIB + 77, data.len()] {
            assert_eq!(
                states.at(&f.abs, at as u64).await.unwrap().finalize(),
                crc_of(&data[..at]),
                "at {at}"
            );
        }
    }

    #[tokio::test]
    async fn a_scan_notes_the_digest_and_crc_at_each_mark() {
        let data = data();
        let (_d, f) = file_of(&data);
        let marks = vec![0, 1, MIB as u64, MIB as u64, 3 * MIB as u64];
        let (crc, noted) = scan(
            f.abs.clone(),
            0,
            3 * MIB as u64,
            crc64nvme(),
            Some(<sha2::Sha256 as sha2::Digest>::new()),
            marks.clone(),
        )
        .await
        .unwrap();
        assert_eq!(crc.finalize(), crc_of(&data[..3 * MIB]));
        assert_eq!(noted.len(), marks.len());
        for ((at, digest, crc), mark) in noted.iter().zip(&marks) {
            let n = usize::try_from(*mark).unwrap();
            assert_eq!(*at, *mark);
            assert_eq!(digest.as_ref(), Some(&sha_of(&data[..n])), "at {n}");
            assert_eq!(crc.finalize(), crc_of(&data[..n]), "at {n}");
        }
        // A file shorter than asked is an error, not a short answer.
        let err = scan(
            f.abs.clone(),
            0,
            data.len() as u64 + 1,
            crc64nvme(),
            None,
            Vec::new(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
    }

    fn session(id: &str, size: usize, offset: usize, received: Digest) -> UploadStatus {
        UploadStatus {
            id: Some(id.into()),
            digest: None,
            size: size as u64,
            offset: offset as u64,
            received_digest: Some(received),
            complete: false,
        }
    }

    #[tokio::test]
    async fn the_session_resumed_is_the_longest_whose_bytes_are_the_files() {
        let data = data();
        let (_d, f) = file_of(&data);
        let n = data.len();
        let mut plan = Plan::none();
        plan.resumable = vec![
            session("short", n, MIB / 2, sha_of(&data[..MIB / 2])),
            session("long", n, MIB, sha_of(&data[..MIB])),
            session("other-bytes", n, 2 * MIB, sha_of(&data[1..=2 * MIB])),
            session("other-size", n + 1, MIB, sha_of(&data[..MIB])),
        ];
        let (id, offset, crc) = resumable_session(&f, &plan).await.unwrap().unwrap();
        assert_eq!((id.as_str(), offset), ("long", MIB as u64));
        assert_eq!(crc.finalize(), crc_of(&data[..MIB]));
        // Taken: the next file of these bytes gets the other match.
        let (id, offset, _) = resumable_session(&f, &plan).await.unwrap().unwrap();
        assert_eq!((id.as_str(), offset), ("short", (MIB / 2) as u64));
        assert!(resumable_session(&f, &plan).await.unwrap().is_none());
    }
}
