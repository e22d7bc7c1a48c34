//! Phase 1 of `push`: what is pushed, checked before any byte is sent. The
//! metadata file parses, the SBOMs parse and the key loads, the model is
//! walked (and signed, keeping exactly the files the signature covers), and
//! the paths are ones the server accepts.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context as _, bail};

use super::Args;
use crate::commands::signing::SigningMaterial;
use crate::hashing::{self, LocalFile};

/// A push ready to upload.
pub struct Prepared {
    /// The files to push (their digests not yet known).
    pub files: Vec<LocalFile>,
    /// The model's OMS signature, with `--sign` or `--key`.
    pub signature: Option<PushSignature>,
    /// The key that signs the `--sbom` attestations.
    pub sbom_signing: Option<SigningMaterial>,
}

/// A signature made for this push, and what the server needs to verify it.
pub struct PushSignature {
    pub bundle: serde_json::Value,
    pub public_key: Option<String>,
    pub certificate_roots: Vec<String>,
    /// Signed resource paths (`.` for a single file).
    resources: HashSet<String>,
}

/// Version metadata from a JSON or YAML file (by its extension); an object.
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

/// Checks the SBOMs and the key, walks the model, signs it and checks the
/// paths.
pub async fn prepare(a: &Args) -> anyhow::Result<Prepared> {
    let sbom_signing = sbom_signing(a)?;
    let root = a.path.clone();
    let mut files = tokio::task::spawn_blocking(move || hashing::collect(&root)).await??;
    // A signing key signs (as with cosign): never an unsigned push by surprise.
    let signature = if a.sign || a.signing.key.is_some() {
        let sig = tokio::task::block_in_place(|| sign(a))?;
        files = signed_files(files, &sig)?;
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
    Ok(Prepared {
        files,
        signature,
        sbom_signing,
    })
}

/// With `--sbom`: every SBOM parses, and the key that signs them loads.
fn sbom_signing(a: &Args) -> anyhow::Result<Option<SigningMaterial>> {
    if a.sbom.is_empty() {
        return Ok(None);
    }
    for p in &a.sbom {
        let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        provenant_sbom::parse_sbom(&bytes, &p.display().to_string())
            .with_context(|| format!("--sbom {} is not a usable SBOM", p.display()))?;
    }
    Ok(Some(SigningMaterial::load(&a.signing, "--sbom")?))
}

/// Signs the model (OMS, file mode, SHA-256) under the push walking rules.
fn sign(a: &Args) -> anyhow::Result<PushSignature> {
    use crate::commands::oms::refuse;
    let m = SigningMaterial::load(&a.signing, "--sign")?;
    let digest = provenant_digest::hash_model(&a.path, &hashing::push_options())
        .map_err(|e| refuse(e.into()))?;
    let bundle = provenant_attest::sign_digest(&digest, &m.key, &m.chain).map_err(refuse)?;
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

/// Push exactly what is signed (OMS leaves top-level git files out).
fn signed_files(files: Vec<LocalFile>, sig: &PushSignature) -> anyhow::Result<Vec<LocalFile>> {
    if files.len() == 1 && sig.resources.contains(".") {
        return Ok(files);
    }
    let (kept, dropped): (Vec<LocalFile>, Vec<LocalFile>) = files
        .into_iter()
        .partition(|f| sig.resources.contains(&f.rel));
    for f in &dropped {
        eprintln!(
            "note: {} is not covered by the signature (OMS ignores it); not pushed",
            f.rel
        );
    }
    anyhow::ensure!(
        !kept.is_empty(),
        "nothing left to push after leaving out unsigned files"
    );
    Ok(kept)
}
