use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use sha2::Digest as _;

use crate::GlobalArgs;
use crate::client::Client;
use crate::hashing::VerifyFailure;
use provenant_api::{ManifestFile, VersionView};
use provenant_digest::Digest;

/// Download a version into a directory. Every file is verified against its
/// digest and the manifest against the version digest; the directory appears
/// only when everything matched (written to a temporary sibling, then renamed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version reference: ns/name:7, ns/name@sha256:…, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// Target directory (must not exist or be empty, unless --force)
    pub dir: PathBuf,
    /// Replace an existing target directory
    #[arg(long)]
    pub force: bool,
    /// Concurrent downloads
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Also verify an attached OMS signature over the downloaded files before
    /// they appear: with --key or --certificate-chain, else with the keys and
    /// root certificates the version's namespace trusts
    #[arg(long)]
    pub verify: bool,
    /// Public key (PEM) the signature must verify with, with --verify
    #[arg(long, requires = "verify", conflicts_with = "certificate_chain")]
    pub key: Option<PathBuf>,
    /// Trusted root certificates (PEM) for certificate-mode signatures, with --verify
    #[arg(long = "certificate-chain", requires = "verify")]
    pub certificate_chain: Vec<PathBuf>,
    /// Also write the attached OMS signature (the one that verified, with
    /// --verify) beside the files, where `provenant verify` looks for it
    /// (DIR/model.sig, or FILE.sig for a single-file model), or to PATH
    #[arg(long, value_name = "PATH")]
    #[allow(clippy::option_option)]
    pub signature: Option<Option<PathBuf>>,
}

/// A signature attached to a version, as listed.
#[derive(serde::Deserialize)]
struct AttachedSignature {
    digest: String,
    #[serde(default)]
    trusted: bool,
}

/// What the pulled files may verify with: a key or roots given on the command
/// line (no fingerprint), or those the namespace trusts (with their fingerprints).
type Candidates = Vec<(Option<String>, provenant_attest::TrustRoot)>;

/// The keys and root certificates the namespace of `v` trusts.
async fn namespace_trust(client: &Client, v: &VersionView) -> anyhow::Result<Candidates> {
    let namespace = v.model.split('/').next().unwrap_or_default().to_owned();
    let keys: Vec<provenant_api::TrustedKeyView> = client
        .get_json(&format!(
            "api/v1/namespaces/{}/keys",
            crate::client::model_segment(&namespace)
        ))
        .await?;
    let mut roots = Vec::new();
    for k in keys {
        let pem = k.public_key;
        let root = if k.kind == provenant_api::TrustedKeyKind::RootCertificate {
            provenant_attest::TrustRoot::Certificates(
                provenant_attest::load_pem_certificates(pem.as_bytes())
                    .map_err(super::oms::refuse)?,
            )
        } else {
            provenant_attest::TrustRoot::PublicKey(
                provenant_attest::PublicKey::from_pem(pem.as_bytes())
                    .map_err(super::oms::refuse)?,
            )
        };
        roots.push((Some(k.fingerprint), root));
    }
    if roots.is_empty() {
        return Err(VerifyFailure {
            path: "signature".into(),
            reason: format!(
                "namespace {namespace} trusts no key; pass --key or --certificate-chain"
            ),
        }
        .into());
    }
    Ok(roots)
}

/// The signatures attached to `v` (the trusted ones first).
async fn attached_signatures(
    client: &Client,
    v: &VersionView,
) -> anyhow::Result<Vec<AttachedSignature>> {
    let mut sigs: Vec<AttachedSignature> = client
        .get_json(&format!("{}/signatures", super::version_path(v)))
        .await?;
    sigs.sort_by_key(|s| !s.trusted);
    if sigs.is_empty() {
        return Err(VerifyFailure {
            path: "signature".into(),
            reason: format!("no signature is attached to {}", v.reference),
        }
        .into());
    }
    Ok(sigs)
}

/// The bytes of one attached signature bundle.
async fn signature_bytes(
    client: &Client,
    v: &VersionView,
    digest: &str,
) -> anyhow::Result<bytes::Bytes> {
    let resp = client
        .send(client.request(
            Method::GET,
            &format!("{}/signatures/{digest}", super::version_path(v)),
        )?)
        .await?;
    resp.bytes()
        .await
        .with_context(|| format!("downloading signature {digest}"))
}

/// Verify the staged files against the signatures attached to the version;
/// succeeds when one of them verifies with the trust root given, or with one
/// the namespace trusts. Returns who signed and the verified bundle's bytes.
async fn verify_signatures(
    client: &Client,
    v: &VersionView,
    dir: &Path,
    a: &Args,
) -> anyhow::Result<(String, bytes::Bytes)> {
    let candidates: Candidates = match &a.key {
        Some(k) => vec![(
            None,
            provenant_attest::TrustRoot::PublicKey(crate::keyfile::public_key(k, "--key")?),
        )],
        None if !a.certificate_chain.is_empty() => vec![(
            None,
            provenant_attest::TrustRoot::Certificates(super::oms::certificates(
                &a.certificate_chain,
            )?),
        )],
        None => namespace_trust(client, v).await?,
    };
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let mut reasons = Vec::new();
    for sig in attached_signatures(client, v).await? {
        let bytes = signature_bytes(client, v, &sig.digest).await?;
        let path = scratch.path().join("model.sig");
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        for (fingerprint, root) in &candidates {
            let mut opts = provenant_attest::VerifyOptions::new(root.clone());
            opts.signature_path = Some(path.clone());
            let dir = dir.to_path_buf();
            match tokio::task::spawn_blocking(move || provenant_attest::verify_model(&dir, &opts))
                .await?
            {
                Ok(verified) => {
                    let by = match fingerprint {
                        Some(f) => {
                            format!("{} (trusted by the namespace as {f})", verified.identity)
                        }
                        None => verified.identity.to_string(),
                    };
                    return Ok((by, bytes));
                }
                Err(e) => reasons.push(match fingerprint {
                    Some(f) => format!("{} with {f}: {e}", sig.digest),
                    None => format!("{}: {e}", sig.digest),
                }),
            }
        }
    }
    Err(VerifyFailure {
        path: "signature".into(),
        reason: reasons.join("; "),
    }
    .into())
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    super::warn_if_retired(&v);
    let files = v
        .files
        .clone()
        .context("server did not list the version's files")?;
    for f in &files {
        provenant_registry::validate_file_path(&f.path).map_err(|e| VerifyFailure {
            path: f.path.clone(),
            reason: format!("unsafe path from server: {e}"),
        })?;
    }
    verify_manifest(&client, &v, &files).await?;

    let target = &a.dir;
    let exists = target.exists();
    if exists && !a.force && !is_empty_dir(target) {
        bail!(
            "{} exists and is not empty; use --force to replace it",
            target.display()
        );
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .context("target directory needs a name")?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.pulling-"))
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a staging directory in {}", parent.display()))?;

    let total: u64 = files.iter().map(|f| f.size).sum();
    let pb = if std::io::stderr().is_terminal() {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(
        "  pulling [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    // Each download is its own task, so that receiving, hashing and writing
    // spread over the runtime's threads instead of all polling on this one.
    futures::stream::iter(files.iter().map(|f| {
        let client = client.clone();
        let dest = staging.path().join(&f.path);
        let pb = pb.clone();
        let f = f.clone();
        async move {
            tokio::spawn(async move { download(&client, &f, &dest, &pb).await })
                .await
                .context("a download task failed")?
        }
    }))
    .buffer_unordered(usize::from(a.jobs))
    .try_collect::<Vec<()>>()
    .await?;
    pb.finish_and_clear();

    // A single-file model is verified as that file (its signature is FILE.sig).
    let single = (files.len() == 1).then(|| files[0].path.clone());
    let staged_model = match &single {
        Some(f) => staging.path().join(f),
        None => staging.path().to_path_buf(),
    };
    let (signer, bundle) = if a.verify {
        let (by, bytes) = verify_signatures(&client, &v, &staged_model, &a).await?;
        (Some(by), Some(bytes))
    } else if a.signature.is_some() {
        let sigs = attached_signatures(&client, &v).await?;
        if sigs.len() > 1 {
            eprintln!(
                "note: {} signatures are attached to {}; writing {} (add --verify to pick the one that verifies)",
                sigs.len(),
                v.reference,
                sigs[0].digest
            );
        }
        (
            None,
            Some(signature_bytes(&client, &v, &sigs[0].digest).await?),
        )
    } else {
        (None, None)
    };
    // The signature beside the files goes in with them (same rename);
    // one written elsewhere follows the rename.
    let mut signature_written = None;
    let mut signature_elsewhere = None;
    if let (Some(bytes), Some(dest)) = (&bundle, &a.signature) {
        match dest {
            None => {
                let staged_sig = provenant_attest::default_signature_path(&staged_model);
                std::fs::write(&staged_sig, bytes)
                    .with_context(|| format!("cannot write {}", staged_sig.display()))?;
                signature_written = Some(match &single {
                    Some(f) => provenant_attest::default_signature_path(&target.join(f)),
                    None => target.join(provenant_attest::DEFAULT_SIGNATURE_NAME),
                });
            }
            Some(p) => signature_elsewhere = Some(p.clone()),
        }
    }

    // Swap into place, the directory entries flushed first and the rename after.
    sync_dirs(staging.path())?;
    let staged = staging.keep();
    if exists {
        let backup = parent.join(format!(".{name}.replaced-{}", std::process::id()));
        std::fs::rename(target, &backup)
            .with_context(|| format!("cannot move {} aside", target.display()))?;
        if let Err(e) = std::fs::rename(&staged, target) {
            let _ = std::fs::rename(&backup, target);
            return Err(e).with_context(|| {
                format!("cannot move the pulled files into {}", target.display())
            });
        }
        let removed = std::fs::remove_dir_all(&backup)
            .with_context(|| format!("cannot remove {}", backup.display()));
        sync_dir(&parent)?;
        removed?;
    } else {
        std::fs::rename(&staged, target)
            .with_context(|| format!("cannot move the pulled files into {}", target.display()))?;
        sync_dir(&parent)?;
    }
    if let (Some(bytes), Some(p)) = (&bundle, &signature_elsewhere) {
        std::fs::write(p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        signature_written = Some(p.clone());
    }
    if g.json {
        crate::output::json(
            &serde_json::json!({"reference": v.reference, "digest": v.digest, "dir": target, "files": files.len(), "bytes": total, "signed_by": signer, "signature": signature_written}),
        )?;
    } else {
        println!(
            "pulled {} ({}) into {}: {} files, {}, all digests verified",
            v.reference,
            v.digest,
            target.display(),
            files.len(),
            crate::output::size(i64::try_from(total).unwrap_or(i64::MAX))
        );
        if let Some(s) = &signer {
            println!("signature verified: signed by {s}");
        }
        if let Some(p) = &signature_written {
            println!("signature written to {}", p.display());
        }
    }
    Ok(())
}

/// The manifest must hash to the version digest and list exactly the files.
async fn verify_manifest(
    client: &Client,
    v: &VersionView,
    files: &[ManifestFile],
) -> anyhow::Result<()> {
    let resp = client
        .send(client.request(Method::GET, &format!("{}/manifest", super::version_path(v)))?)
        .await?;
    let bytes = resp.bytes().await.context("downloading the manifest")?;
    let actual = Digest::sha256(&bytes);
    if actual != v.digest {
        return Err(VerifyFailure {
            path: "manifest".into(),
            reason: format!("hashes to {actual}, version digest is {}", v.digest),
        }
        .into());
    }
    let doc: serde_json::Value = serde_json::from_slice(&bytes).context("manifest is not JSON")?;
    let mut listed: Vec<(String, Option<Digest>, u64)> = doc["layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .map(|l| {
                    (
                        l["annotations"]["org.cncf.model.filepath"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                        l["digest"].as_str().and_then(|d| d.parse().ok()),
                        l["size"].as_u64().unwrap_or(u64::MAX),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut expected: Vec<(String, Option<Digest>, u64)> = files
        .iter()
        .map(|f| (f.path.clone(), Some(f.digest), f.size))
        .collect();
    listed.sort();
    expected.sort();
    if listed != expected {
        return Err(VerifyFailure {
            path: "manifest".into(),
            reason: "file list differs from the signed-off manifest layers".into(),
        }
        .into());
    }
    Ok(())
}

async fn download(
    client: &Client,
    f: &ManifestFile,
    dest: &Path,
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    // The one content digest pulled files are checked against.
    let expected = f.digest;
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let resp = client
        .send(client.request(Method::GET, &format!("api/v1/blobs/{expected}"))?)
        .await?;
    // Hash and write on a blocking thread, fed in batches of ~1 MiB of the
    // received chunks (not copied: the batch holds the chunks themselves), so
    // that the network, the hashing and the disk overlap.
    let file =
        std::fs::File::create(dest).with_context(|| format!("cannot write {}", dest.display()))?;
    provenant_fs::preallocate(&file, f.size).with_context(|| {
        format!(
            "no room for {} ({} bytes) in {}",
            f.path,
            f.size,
            dest.display()
        )
    })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<bytes::Bytes>>(8);
    let dest_owned = dest.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<Digest> {
        // The file is on disk before the directory is renamed into place, as
        // the server does with blobs: a crash must not leave a pulled file
        // empty. Writeback runs along the way, so the last flush is short.
        let mut out = provenant_fs::Writeback::new(std::sync::Arc::new(file));
        let mut hasher = sha2::Sha256::new();
        while let Some(batch) = rx.blocking_recv() {
            for chunk in &batch {
                hasher.update(chunk);
            }
            let n = provenant_fs::write_all_vectored(out.file(), &batch)
                .with_context(|| format!("cannot write {}", dest_owned.display()))?;
            out.wrote(n)
                .with_context(|| format!("cannot flush {} to disk", dest_owned.display()))?;
        }
        out.finish()
            .with_context(|| format!("cannot flush {} to disk", dest_owned.display()))?;
        Ok(Digest::from_sha256_bytes(hasher.finalize().into()))
    });
    let mut stream = resp.bytes_stream();
    let mut written = 0u64;
    let mut batch: Vec<bytes::Bytes> = Vec::new();
    let mut batched = 0usize;
    let received: anyhow::Result<()> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("download of {} interrupted", f.path))?;
            written += chunk.len() as u64;
            if written > f.size {
                return Err(VerifyFailure {
                    path: f.path.clone(),
                    reason: format!("server sent more than the recorded {} bytes", f.size),
                }
                .into());
            }
            pb.inc(chunk.len() as u64);
            batched += chunk.len();
            batch.push(chunk);
            if batched >= 1 << 20 {
                batched = 0;
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(batch).await;
        }
        Ok(())
    }
    .await;
    drop(tx);
    let actual = writer.await??;
    received?;
    if written != f.size {
        return Err(VerifyFailure {
            path: f.path.clone(),
            reason: format!("received {written} of {} bytes", f.size),
        }
        .into());
    }
    if actual != expected {
        return Err(VerifyFailure {
            path: f.path.clone(),
            reason: format!("content hashes to {actual}, expected {expected}"),
        }
        .into());
    }
    Ok(())
}

/// Flush a directory's entries to disk.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush directory {} to disk", dir.display()))
}

/// Flush `root` and every directory below it (the files were flushed as
/// they were written).
fn sync_dirs(root: &Path) -> anyhow::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
        sync_dir(&dir)?;
    }
    Ok(())
}
