use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;

use crate::GlobalArgs;
use crate::api::{Published, UploadPlan, UploadStatus};
use crate::client::{ApiFailure, Client, model_segment};
use crate::hashing::{self, LocalFile};

/// Publish a model directory (or a single file) as a new version.
///
/// Files are hashed in parallel, blobs the server already has are skipped,
/// the rest stream up concurrently; an interrupted upload resumes where it
/// stopped (also across runs of `push`). A large file of a size the server
/// holds no blob of cannot be on the server: it is read once, hashed by the
/// server as it arrives and checked end to end with a CRC-64/NVME checksum.
#[derive(Debug, clap::Args)]
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
    /// Sign the model (OMS, file mode, SHA-256) and attach the signature to the version
    #[arg(long, requires = "key")]
    pub sign: bool,
    /// Signing key (PEM), for --sign and --sbom
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Environment variable holding the signing key's password
    #[arg(long, requires = "key")]
    pub password_env: Option<String>,
    /// Signing certificate (PEM) for certificate mode, with --key
    #[arg(long, requires = "key")]
    pub certificate: Option<PathBuf>,
    /// Rest of the chain up to the root (PEM), with --certificate
    #[arg(long = "certificate-chain", requires = "certificate")]
    pub certificate_chain: Vec<PathBuf>,
    /// Attach this SBOM (CycloneDX or SPDX JSON) as an in-toto attestation signed with
    /// --key (repeatable); it must parse, and its subject is the pushed model's OMS root digest
    #[arg(long, value_name = "FILE", requires = "key")]
    pub sbom: Vec<PathBuf>,
    /// SLSA provenance bundle (`provenant attest provenance`) to attach to the version;
    /// checked (signature, subject, required fields) before the version is published
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
    let key_path = a.key.as_ref().context("--sign needs --key")?;
    let m = super::attach::SigningMaterial::load(
        key_path,
        a.password_env.as_deref(),
        a.certificate.as_deref(),
        &a.certificate_chain,
    )?;
    let options = provenant_digest::HashOptions {
        ignore_paths: vec![provenant_attest::DEFAULT_SIGNATURE_NAME.to_owned()],
        allow_symlinks: true,
        ..provenant_digest::HashOptions::default()
    };
    let digest = provenant_digest::hash_model(&a.path, &options)
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
    signature: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attestations: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<serde_json::Value>,
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
        let key = a.key.as_deref().context("--sbom needs --key")?;
        Some(super::attach::SigningMaterial::load(
            key,
            a.password_env.as_deref(),
            a.certificate.as_deref(),
            &a.certificate_chain,
        )?)
    };
    let root = a.path.clone();
    let mut files = tokio::task::spawn_blocking(move || hashing::collect(&root)).await??;
    let signature = if a.sign {
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
    let total: u64 = files.iter().map(|f| f.size).sum();
    let plan = Plan::fetch(&client, &files).await?;
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
            a.key.as_deref(),
            a.password_env.as_deref(),
            &files,
        )?),
        None => None,
    };
    hash_bar.finish_and_clear();
    upload_bar.finish_and_clear();

    let body = serde_json::json!({
        "files": files.iter().map(|f| serde_json::json!({"path": f.rel, "digest": f.digest, "size": f.size})).collect::<Vec<_>>(),
        "metadata": metadata,
        "labels": labels,
    });
    let (_, published): (_, Published) = client
        .send_json(
            Method::POST,
            &format!("api/v1/models/{}/versions", model_segment(&a.model)),
            &body,
        )
        .await?;
    let signature = match signature {
        Some(sig) => {
            let v = &published.version;
            let (_, view): (_, serde_json::Value) = client
                .send_json(
                    Method::POST,
                    &format!(
                        "api/v1/models/{}/versions/{}/signatures",
                        model_segment(&v.model),
                        v.number
                    ),
                    &serde_json::json!({
                        "bundle": sig.bundle,
                        "public_key": sig.public_key,
                        "certificate_roots": sig.certificate_roots,
                    }),
                )
                .await
                .context("attaching the signature")?;
            Some(view)
        }
        None => None,
    };
    let mut attestations = Vec::new();
    if let Some(signing) = &sbom_signing {
        let v = &published.version;
        let root = provenant_registry::oms_root_digest(
            files.iter().map(|f| (f.rel.as_str(), f.digest.as_str())),
        )?;
        for p in &a.sbom {
            let st = super::attach::sbom_statement(p, &v.model, &root)?;
            let bundle = signing.sign(&st)?;
            attestations.push(
                super::attach::post(
                    &client,
                    &v.model,
                    v.number,
                    &bundle,
                    signing.public_key.as_deref(),
                    &signing.certificate_roots,
                )
                .await
                .with_context(|| format!("attaching the SBOM {}", p.display()))?,
            );
        }
    }
    let provenance = match provenance {
        Some(body) => Some(
            super::provenance::attach(&client, &published.version, &body)
                .await
                .with_context(|| {
                    format!(
                        "published {} but attaching the provenance failed",
                        published.version.reference
                    )
                })?,
        ),
        None => None,
    };
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
                "provenance attached (signed by {}; builder {})",
                p["signer"].as_str().unwrap_or("?"),
                p["summary"]["builder_id"].as_str().unwrap_or("?")
            );
        }
        if let Some(sig) = &report.signature {
            println!(
                "signed by {} ({})",
                sig["signer"].as_str().unwrap_or("?"),
                if sig["trusted"] == true {
                    "trusted"
                } else {
                    "key not yet trusted by the namespace: see `provenant keys add`"
                }
            );
        }
        for att in &report.attestations {
            println!("attached {}", super::attach::describe(att));
        }
    }
    Ok(())
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

impl Plan {
    async fn fetch(client: &Client, files: &[LocalFile]) -> anyhow::Result<Self> {
        let mut sizes: Vec<u64> = files
            .iter()
            .filter(|f| f.size >= READ_ONCE_MIN)
            .map(|f| f.size)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mut plan = Self {
            undeclared: false,
            once_sizes: HashSet::new(),
            resumable: Vec::new(),
            claimed: std::sync::Mutex::new(HashSet::new()),
        };
        if sizes.is_empty() {
            return Ok(plan);
        }
        let reply: Result<(_, UploadPlan), _> = client
            .send_json(
                Method::POST,
                "api/v1/uploads/plan",
                &serde_json::json!({ "sizes": sizes }),
            )
            .await;
        let answer = match reply {
            Ok((_, answer)) => answer,
            // A server without plans: hash everything first, as it expects.
            Err(e)
                if e.chain().any(|c| {
                    c.downcast_ref::<ApiFailure>()
                        .is_some_and(|f| f.status == 404 || f.status == 405)
                }) =>
            {
                return Ok(plan);
            }
            Err(e) => return Err(e.context("planning the upload")),
        };
        let held: HashSet<u64> = answer.held_sizes.into_iter().collect();
        plan.undeclared = answer.undeclared;
        plan.once_sizes = sizes.into_iter().filter(|s| !held.contains(s)).collect();
        plan.resumable = answer.resumable;
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

    fn release(&self, id: &str) {
        if let Ok(mut c) = self.claimed.lock() {
            c.remove(id);
        }
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

/// SHA-256 (when asked) and CRC-64/NVME of a file's first `len` bytes.
async fn hash_prefix(
    path: &Path,
    len: u64,
    sha: bool,
) -> anyhow::Result<(Option<String>, crc_fast::Digest)> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut rest = file.take(len);
        let mut h = sha.then(sha2::Sha256::new);
        let mut crc = crc64nvme();
        let mut buf = vec![0u8; 1 << 20];
        let mut read = 0u64;
        loop {
            let n = rest
                .read(&mut buf)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if let Some(h) = h.as_mut() {
                h.update(&buf[..n]);
            }
            crc.update(&buf[..n]);
        }
        anyhow::ensure!(read == len, "{} shrank while it was pushed", path.display());
        Ok((
            h.map(|h| format!("sha256:{}", hex::encode(h.finalize()))),
            crc,
        ))
    })
    .await?
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
    let mut start = None;
    for cand in plan.resumable.iter().filter(|s| s.size == f.size) {
        let (Some(id), Some(received)) = (&cand.id, &cand.received_digest) else {
            continue;
        };
        if !plan.claim(id) {
            continue;
        }
        let (prefix, crc) = hash_prefix(&f.abs, cand.offset, true).await?;
        if prefix.as_deref() == Some(received.as_str()) {
            start = Some((id.clone(), cand.offset, crc));
            break;
        }
        plan.release(id);
    }
    let (id, mut offset, crc) = match start {
        Some(s) => s,
        None => {
            let (_, st): (_, UploadStatus) = client
                .send_json(
                    Method::POST,
                    "api/v1/uploads",
                    &serde_json::json!({ "size": f.size }),
                )
                .await?;
            let id = st.id.context("server opened an upload without an id")?;
            (id, st.offset, crc64nvme())
        }
    };
    let crc = std::sync::Arc::new(std::sync::Mutex::new(crc));
    let mut out = Outcome {
        uploaded: true,
        resumed: offset > 0,
        read_once: true,
        bytes: 0,
    };
    pb.inc(offset);
    let mut attempts = 0u32;
    while offset < f.size {
        let sent = patch(client, &id, f, offset, pb, Some(&crc)).await;
        let at = match sent {
            Ok(st) => st.offset,
            Err(e) => {
                attempts += 1;
                if is_permanent(&e) || attempts > 5 {
                    return Err(e);
                }
                tracing::warn!(file = %f.rel, error = %format!("{e:#}"), attempt = attempts, "upload interrupted; resuming");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempts * attempts)))
                    .await;
                let st: UploadStatus = client.get_json(&format!("api/v1/uploads/{id}")).await?;
                out.resumed = true;
                st.offset
            }
        };
        out.bytes += at.saturating_sub(offset);
        offset = at;
        if offset < f.size {
            // The checksum covered what was sent; the server kept less.
            let (_, redone) = hash_prefix(&f.abs, offset, false).await?;
            if let Ok(mut c) = crc.lock() {
                *c = redone;
            }
        }
    }
    if stamp(&f.abs)? != before {
        let _ = client
            .send(client.request(Method::DELETE, &format!("api/v1/uploads/{id}"))?)
            .await;
        bail!("{} changed while it was pushed; push it again", f.rel);
    }
    let checksum = crc
        .lock()
        .map_err(|_| anyhow::anyhow!("checksum state poisoned"))?
        .finalize();
    let (_, st): (_, UploadStatus) = client
        .send_json(
            Method::PUT,
            &format!("api/v1/uploads/{id}"),
            &serde_json::json!({ "checksum": format!("crc64nvme:{checksum:016x}") }),
        )
        .await
        .context("committing the upload")?;
    let digest = st
        .digest
        .filter(|d| d.starts_with("sha256:"))
        .context("server committed the upload without naming its digest")?;
    Ok((out, Some(digest)))
}

/// An error that retrying cannot mend (a client error other than a conflict).
fn is_permanent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ApiFailure>()
            .is_some_and(|f| f.status != 409 && f.status < 500)
    })
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
                attempts += 1;
                if is_permanent(&e) || attempts > 5 {
                    return Err(e);
                }
                tracing::warn!(file = %f.rel, error = %format!("{e:#}"), attempt = attempts, "upload interrupted; resuming");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempts * attempts)))
                    .await;
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
    crc: Option<&std::sync::Arc<std::sync::Mutex<crc_fast::Digest>>>,
) -> anyhow::Result<UploadStatus> {
    use std::io::Seek as _;
    let mut file =
        std::fs::File::open(&f.abs).with_context(|| format!("cannot open {}", f.abs.display()))?;
    file.seek(std::io::SeekFrom::Start(offset))?;
    let remaining = f.size - offset;
    let pb = pb.clone();
    let crc = crc.cloned();
    let stream = provenant_store::file_chunks(file, remaining).inspect(move |c| {
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
