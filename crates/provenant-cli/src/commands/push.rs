use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use provenant_api::ErrorCode;
use reqwest::Method;

use crate::GlobalArgs;
use crate::client::{ApiFailure, Client, model_segment};
use crate::hashing::{self, LocalFile};
use provenant_api::{AttestationView, Published, SignatureView, UploadPlan, UploadStatus};

/// Publish a model directory (or a single file) as a new version.
///
/// Files are hashed in parallel, blobs the server already has are skipped,
/// the rest stream up concurrently; an interrupted upload resumes where it
/// stopped (also across runs of `push`). A large file of a size the server
/// holds no blob of cannot be on the server: it is read once, hashed by the
/// server as it arrives and checked end to end with a CRC-64/NVME checksum.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("certificate", |a| a.requires("key")),
    mut_arg("certificate_chain", |a| a.requires("certificate"))
)]
pub struct Args {
    /// Model directory or single model file
    pub path: PathBuf,
    /// Model name, namespace/name (e.g. aiops/anomaly)
    #[arg(long)]
    pub model: String,
    /// Version metadata as JSON or YAML (see /api/v1/schemas/version-metadata.json)
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Label the version, key=value (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Concurrent uploads
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Hash every file before uploading it, also those a server could take
    /// read once (the digests are then the client's own, end to end);
    /// implied by --sign, --sbom and --provenance, which hash every file anyway
    #[arg(long)]
    pub hash_first: bool,
    /// Sign the model (OMS, file mode, SHA-256) and publish the signature with the
    /// version (implied by --key)
    #[arg(long, requires = "key")]
    pub sign: bool,
    #[command(flatten)]
    pub signing: super::signing::SigningFlags,
    /// Refuse to publish unless the namespace already trusts the signer of every
    /// signature, SBOM and provenance pushed with the version (`provenant keys add`)
    #[arg(long)]
    pub require_trusted: bool,
    /// Attach this SBOM (CycloneDX or SPDX JSON) as an in-toto attestation signed with
    /// --key (repeatable); it must parse, and its subject is the pushed model's OMS root digest
    #[arg(long, value_name = "FILE", requires = "key")]
    pub sbom: Vec<PathBuf>,
    /// SLSA provenance bundle (`provenant attest provenance`) to publish with the version;
    /// checked here (signature, subject, required fields), then by the server, which
    /// publishes the version with it or not at all
    #[arg(long, value_name = "BUNDLE")]
    pub provenance: Option<PathBuf>,
    /// Public key (PEM) verifying the provenance [default: that of --key, else the
    /// keys the namespace trusts]
    #[arg(long, value_name = "PEM", requires = "provenance")]
    pub provenance_key: Option<PathBuf>,
}

/// A signature made for this push, and what the server needs to verify it.
struct PushSignature {
    bundle: serde_json::Value,
    public_key: Option<String>,
    certificate_roots: Vec<String>,
    /// Signed resource paths (`.` for a single file).
    resources: HashSet<String>,
}

fn sign_for_push(a: &Args) -> anyhow::Result<PushSignature> {
    let m = super::signing::SigningMaterial::load(&a.signing, "--sign")?;
    let digest = provenant_digest::hash_model(&a.path, &hashing::push_options())
        .map_err(|e| super::oms::refuse(e.into()))?;
    let bundle =
        provenant_attest::sign_digest(&digest, &m.key, &m.chain).map_err(super::oms::refuse)?;
    Ok(PushSignature {
        bundle: serde_json::from_str(&bundle.to_json())
            .context("serialising the signature bundle")?,
        public_key: m.public_key,
        certificate_roots: m.certificate_roots,
        resources: digest
            .resources
            .iter()
            .map(|r| r.name.to_string())
            .collect(),
    })
}

/// What a push did, for `--json`.
#[derive(serde::Serialize)]
struct Report {
    #[serde(flatten)]
    published: Published,
    files: usize,
    uploaded_blobs: usize,
    uploaded_bytes: u64,
    skipped_blobs: usize,
    resumed_blobs: usize,
    /// Blobs sent without hashing the file first (read once; see `push --help`).
    read_once_blobs: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<SignatureView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attestations: Vec<AttestationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<AttestationView>,
}

pub fn load_metadata(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read metadata file {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let value: serde_json::Value = if ext == "yaml" || ext == "yml" {
        serde_norway::from_str(&text)
            .with_context(|| format!("{} is not valid YAML", path.display()))?
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?
    };
    if !value.is_object() {
        bail!("metadata in {} must be an object", path.display());
    }
    Ok(value)
}

fn bar(total: u64, msg: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg);
    pb
}

#[derive(Default)]
struct Outcome {
    uploaded: bool,
    resumed: bool,
    read_once: bool,
    bytes: u64,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    provenant_registry::ModelName::parse(&a.model)?;
    let labels = super::parse_kv(&a.labels, "label")?;
    let metadata = match &a.metadata {
        Some(p) => load_metadata(p)?,
        None => serde_json::json!({}),
    };
    let client = g.client()?;
    // Check the SBOMs and the key before uploading anything.
    let sbom_signing = if a.sbom.is_empty() {
        None
    } else {
        for p in &a.sbom {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            provenant_sbom::parse_sbom(&bytes, &p.display().to_string())
                .with_context(|| format!("--sbom {} is not a usable SBOM", p.display()))?;
        }
        Some(super::signing::SigningMaterial::load(&a.signing, "--sbom")?)
    };
    let root = a.path.clone();
    let mut files = tokio::task::spawn_blocking(move || hashing::collect(&root)).await??;
    // A signing key signs (as with cosign): never an unsigned push by surprise.
    let signature = if a.sign || a.signing.key.is_some() {
        let sig = tokio::task::block_in_place(|| sign_for_push(&a))?;
        // Push exactly what is signed (OMS leaves top-level git files out).
        if !(files.len() == 1 && sig.resources.contains(".")) {
            let (kept, dropped): (Vec<LocalFile>, Vec<LocalFile>) = files
                .into_iter()
                .partition(|f| sig.resources.contains(&f.rel));
            for f in &dropped {
                eprintln!(
                    "note: {} is not covered by the signature (OMS ignores it); not pushed",
                    f.rel
                );
            }
            files = kept;
            anyhow::ensure!(
                !files.is_empty(),
                "nothing left to push after leaving out unsigned files"
            );
        }
        Some(sig)
    } else {
        None
    };
    // Paths the server would refuse (unsafe on some client OS, colliding
    // by case or Unicode form) are refused before anything is uploaded.
    for f in &files {
        provenant_registry::validate_file_path(&f.rel)?;
    }
    provenant_registry::validate_file_set(
        &files.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(),
    )?;
    let total: u64 = files.iter().map(|f| f.size).sum();
    let hash_first =
        a.hash_first || signature.is_some() || !a.sbom.is_empty() || a.provenance.is_some();
    let plan = if hash_first {
        Plan::none()
    } else {
        Plan::fetch(&client, &files).await?
    };
    let (once, mut to_hash): (Vec<LocalFile>, Vec<LocalFile>) =
        files.into_iter().partition(|f| plan.read_once(f));

    // Hash and upload as a pipeline: each file is offered for upload as soon
    // as its digest is known (one upload per distinct blob); files read once
    // start uploading at once.
    let multi = indicatif::MultiProgress::new();
    let hash_bar = multi.add(bar(to_hash.iter().map(|f| f.size).sum(), "hashing"));
    let upload_bar = multi.add(bar(total, "uploading"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<LocalFile>();
    let hb = hash_bar.clone();
    let hashing_task = tokio::task::spawn_blocking(move || {
        let result = hashing::hash_all_with(&mut to_hash, &|n| hb.inc(n), &|f| {
            let _ = tx.send(f.clone());
        });
        result.map(|()| to_hash)
    });
    let mut seen = HashSet::new();
    let hashed_ready =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) })
            .filter(move |f| std::future::ready(seen.insert(f.digest.clone())))
            .map(|f| (f, false));
    let once_ready = futures::stream::iter(once.into_iter().map(|f| (f, true)));
    let plan = &plan;
    let uploads = futures::stream::select(once_ready, hashed_ready)
        .map(|(f, read_once)| {
            let client = client.clone();
            let pb = upload_bar.clone();
            async move {
                let done = if read_once {
                    upload_once(&client, &f, plan, &pb).await
                } else {
                    upload_blob(&client, &f, &pb).await.map(|o| (o, None))
                };
                done.with_context(|| format!("uploading {}", f.rel))
                    .map(|(o, digest)| (o, digest.map(|d| (f, d))))
            }
        })
        .buffer_unordered(usize::from(a.jobs))
        .try_collect::<Vec<(Outcome, Option<(LocalFile, String)>)>>();
    let (results, hashed) = tokio::join!(uploads, hashing_task);
    let mut files = hashed??;
    let results = results?;
    let mut outcomes = Vec::with_capacity(results.len());
    for (o, sent) in results {
        if let Some((f, digest)) = sent {
            files.push(LocalFile { digest, ..f });
        }
        outcomes.push(o);
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    // Refuse a provenance that cannot be attached before publishing anything.
    let provenance = match &a.provenance {
        Some(p) => Some(super::provenance::prepare(
            p,
            a.provenance_key.as_deref(),
            a.signing.key.as_deref(),
            a.signing.password_env.as_deref(),
            &files,
        )?),
        None => None,
    };
    hash_bar.finish_and_clear();
    upload_bar.finish_and_clear();

    // Everything the version is pushed with goes in the publish request: the
    // server verifies it all, then stores the version and its attachments in
    // one transaction, or nothing.
    let mut attachments = Vec::new();
    if let Some(sig) = &signature {
        attachments.push(provenant_api::BundleBody {
            bundle: sig.bundle.clone(),
            public_key: sig.public_key.clone(),
            certificate_roots: sig.certificate_roots.clone(),
        });
    }
    if let Some(signing) = &sbom_signing {
        let root = provenant_registry::oms_root_digest(
            files.iter().map(|f| (f.rel.as_str(), f.digest.as_str())),
        )?;
        for p in &a.sbom {
            let st = super::attach::sbom_statement(p, &a.model, &root)?;
            attachments.push(signing.body(signing.sign(&st)?));
        }
    }
    let has_provenance = provenance.is_some();
    attachments.extend(provenance);
    let body = provenant_api::PublishBody {
        files: files
            .iter()
            .map(|f| provenant_api::ManifestFile {
                path: f.rel.clone(),
                digest: f.digest.to_string(),
                size: f.size,
            })
            .collect(),
        metadata,
        labels,
        attachments,
        require_trusted: a.require_trusted,
    };
    let (_, published): (_, Published) = client
        .send_json(
            Method::POST,
            &format!("api/v1/models/{}/versions", model_segment(&a.model)),
            &body,
        )
        .await?;
    // The server names each attachment's digest in the order they were sent:
    // the signature, the SBOMs, the provenance.
    let version = &published.version;
    let signature_view = |digest: &String| {
        version
            .signatures
            .iter()
            .flatten()
            .find(|v| &v.digest == digest)
            .cloned()
    };
    let attestation_view = |digest: &String| {
        version
            .attestations
            .iter()
            .flatten()
            .find(|v| &v.digest == digest)
            .cloned()
    };
    let mut digests = published.attached.iter();
    let signature = signature
        .as_ref()
        .and_then(|_| digests.next())
        .and_then(signature_view);
    let attestations: Vec<AttestationView> = digests
        .by_ref()
        .take(a.sbom.len())
        .filter_map(attestation_view)
        .collect();
    let provenance = has_provenance
        .then(|| digests.next())
        .flatten()
        .and_then(attestation_view);
    let report = Report {
        attestations,
        provenance,
        files: files.len(),
        uploaded_blobs: outcomes.iter().filter(|o| o.uploaded).count(),
        uploaded_bytes: outcomes.iter().map(|o| o.bytes).sum(),
        skipped_blobs: outcomes.iter().filter(|o| !o.uploaded).count(),
        resumed_blobs: outcomes.iter().filter(|o| o.resumed).count(),
        read_once_blobs: outcomes.iter().filter(|o| o.read_once).count(),
        signature,
        published,
    };
    if g.json {
        crate::output::json(&report)?;
    } else {
        let v = &report.published.version;
        let verb = if report.published.created {
            "published"
        } else {
            "already published as"
        };
        println!("{verb} {} {}", v.reference, v.digest);
        println!(
            "{} files, {} uploaded ({}), {} already on the server",
            report.files,
            report.uploaded_blobs,
            crate::output::size(i64::try_from(report.uploaded_bytes).unwrap_or(i64::MAX)),
            report.skipped_blobs
        );
        if let Some(p) = &report.provenance {
            println!(
                "provenance attached (signed by {}; builder {}; {})",
                p.signer,
                p.summary["builder_id"].as_str().unwrap_or("?"),
                trust_note(p.trusted)
            );
        }
        if let Some(sig) = &report.signature {
            println!("signed by {} ({})", sig.signer, trust_note(sig.trusted));
        }
        for att in &report.attestations {
            println!("attached {}", super::attach::describe_attestation(att));
        }
    }
    Ok(())
}

/// What a push reports of an attachment's trust.
fn trust_note(trusted: bool) -> &'static str {
    if trusted {
        "trusted"
    } else {
        "key not yet trusted by the namespace: see `provenant keys add`"
    }
}

/// Files at least this large are read once when the server cannot hold them
/// (their size matches no blob of its); smaller ones are hashed first, which
/// costs little and finds any copy the server has.
const READ_ONCE_MIN: u64 = 8 << 20;

/// Which files to read once, and which undeclared sessions wait to be resumed.
struct Plan {
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
    fn none() -> Self {
        Self {
            undeclared: false,
            once_sizes: HashSet::new(),
            resumable: Vec::new(),
            claimed: std::sync::Mutex::new(HashSet::new()),
        }
    }

    async fn fetch(client: &Client, files: &[LocalFile]) -> anyhow::Result<Self> {
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
                    &serde_json::json!({ "sizes": batch }),
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

    fn read_once(&self, f: &LocalFile) -> bool {
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
) -> anyhow::Result<(crc_fast::Digest, Vec<(u64, String, crc_fast::Digest)>)> {
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
                    .map(|h| format!("sha256:{}", hex::encode(h.clone().finalize())))
                    .unwrap_or_default();
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
    let mut cands: Vec<(u64, &str, &str)> = plan
        .resumable
        .iter()
        .filter(|s| s.size == f.size && s.offset > 0 && s.offset <= f.size)
        .filter_map(|s| Some((s.offset, s.id.as_deref()?, s.received_digest.as_deref()?)))
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
        if prefix == *received && plan.claim(id) {
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
            &serde_json::json!({ "size": size }),
        )
        .await?;
    st.id.context("server opened an upload without an id")
}

/// Upload a file read once: an undeclared session (or one an earlier push
/// left, when the file's first bytes are what it received), then the commit
/// declaring the checksum of the bytes sent. Returns the blob's digest.
async fn upload_once(
    client: &Client,
    f: &LocalFile,
    plan: &Plan,
    pb: &ProgressBar,
) -> anyhow::Result<(Outcome, Option<String>)> {
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
            &serde_json::json!({ "checksum": format!("crc64nvme:{checksum:016x}") }),
        )
        .await;
    let digest = match committed {
        Ok((_, st)) => st
            .digest
            .filter(|d| d.starts_with("sha256:"))
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
            let declared = LocalFile {
                digest: digest.clone(),
                ..f.clone()
            };
            let again = upload_blob(client, &declared, &ProgressBar::hidden()).await?;
            out.bytes += again.bytes;
            digest
        }
    };
    Ok((out, Some(digest)))
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
async fn upload_blob(client: &Client, f: &LocalFile, pb: &ProgressBar) -> anyhow::Result<Outcome> {
    let (_, st): (_, UploadStatus) = client
        .send_json(
            Method::POST,
            "api/v1/uploads",
            &serde_json::json!({"digest": f.digest, "size": f.size}),
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

    fn sha_of(data: &[u8]) -> String {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
    }

    fn file_of(data: &[u8]) -> (tempfile::TempDir, LocalFile) {
        let d = tempfile::tempdir().unwrap();
        let abs = d.path().join("w.bin");
        std::fs::write(&abs, data).unwrap();
        let f = LocalFile {
            rel: "w.bin".into(),
            abs,
            size: data.len() as u64,
            digest: String::new(),
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
            assert_eq!(*digest, sha_of(&data[..n]), "at {n}");
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

    fn session(id: &str, size: usize, offset: usize, received: String) -> UploadStatus {
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
