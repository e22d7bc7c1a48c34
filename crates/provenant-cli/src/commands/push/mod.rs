//! `push`: publish a model directory (or file) as a new version, in three
//! phases: [`prepare`] (walk, sign, check paths and SBOMs before anything is
//! sent), [`transfer`] (hash and upload as a pipeline, through
//! [`crate::upload`]) and [`publish`] (one request with the files and every
//! attachment, then the report).

mod prepare;
mod publish;
mod transfer;

use std::path::PathBuf;

use crate::GlobalArgs;

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

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    provenant_registry::ModelName::parse(&a.model)?;
    let labels = super::parse_kv(&a.labels, "label")?;
    let metadata = match &a.metadata {
        Some(p) => prepare::load_metadata(p)?,
        None => serde_json::json!({}),
    };
    let client = g.client()?;
    let prepared = prepare::prepare(&a).await?;
    let hash_first = a.hash_first
        || prepared.signature.is_some()
        || !a.sbom.is_empty()
        || a.provenance.is_some();
    let sent = transfer::transfer(&client, prepared.files, hash_first, a.jobs).await?;
    let attachments = publish::attachments(
        &a,
        &sent.files,
        prepared.signature.as_ref(),
        prepared.sbom_signing.as_ref(),
    )?;
    let published =
        publish::publish(&client, &a, &sent.files, metadata, labels, &attachments).await?;
    let report = publish::report(published, &attachments, &sent);
    publish::print(g.json, &report)
}
