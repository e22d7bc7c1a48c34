use std::path::PathBuf;

use anyhow::Context as _;

use crate::GlobalArgs;

/// Generate an SBOM (CycloneDX 1.6 or SPDX 2.3 JSON) for a directory (lock files,
/// site-packages, a root file system), an OCI image layout, a `docker save`
/// tarball, a lock/requirements file, installed Python environments, or a
/// registry version (`--model ns/name:7`). Several sources combine into one SBOM.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sources to catalog
    #[arg(required_unless_present_any = ["python_env", "model"])]
    pub paths: Vec<PathBuf>,
    /// An installed Python environment (site-packages directory or venv), repeatable
    #[arg(long = "python-env", value_name = "DIR")]
    pub python_env: Vec<PathBuf>,
    /// Describe a registry version: the model component with its files and model card
    #[arg(long, value_name = "REF")]
    pub model: Option<String>,
    /// Output format
    #[arg(short = 'o', long = "format", default_value = "cyclonedx-json", value_parser = ["cyclonedx-json", "spdx-json"])]
    pub format: String,
    /// Write to this file instead of stdout
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Pin the creation time (seconds since the Unix epoch) for reproducible output
    #[arg(long)]
    pub timestamp: Option<u64>,
    /// Pin the CycloneDX serial number / SPDX document namespace
    #[arg(long)]
    pub serial: Option<String>,
    /// Also list the files of each package (Python RECORD entries)
    #[arg(long)]
    pub include_files: bool,
}

async fn model_sbom(g: &GlobalArgs, reference: &str) -> anyhow::Result<provenant_sbom::Sbom> {
    let client = g.client()?;
    let v = super::resolve(&client, reference).await?;
    let files = v
        .files
        .clone()
        .context("server did not list the version's files")?;
    let root = super::attach::version_root(&v)?;
    let (namespace, name) = v
        .model
        .rsplit_once('/')
        .context("model name without namespace")?;
    let desc = provenant_sbom::ModelDescription {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        version: v.number.to_string(),
        root_digest: root,
        files: files
            .iter()
            .map(|f| provenant_sbom::ModelFile {
                path: f.path.clone(),
                digest: f.digest,
                size: Some(f.size),
                format: None,
            })
            .collect(),
        metadata: Some(v.metadata.to_value()),
        purl: None,
        supplier: Some(v.created_by.clone()),
    };
    let component = provenant_sbom::model_component(&desc)?;
    let mut sbom = provenant_sbom::Sbom {
        subject: Some(component.clone()),
        components: vec![component],
        ..Default::default()
    };
    // Merge the SBOMs attached to the version (verified by the server when attached).
    let path = super::version_path(&v);
    let atts: Vec<provenant_api::AttestationView> =
        client.get_json(&format!("{path}/attestations")).await?;
    for att in atts
        .iter()
        .filter(|a| a.kind == provenant_api::AttachmentKind::Sbom)
    {
        let digest = &att.digest;
        if !att.trusted {
            eprintln!(
                "warning: attached SBOM {digest} is signed by {}, which the namespace does not trust",
                att.signer
            );
        }
        let resp = client
            .send(client.request(
                reqwest::Method::GET,
                &format!("{path}/attestations/{digest}"),
            )?)
            .await?;
        let body = resp.bytes().await?;
        let statement = provenant_registry::attestation_statement(&body)
            .with_context(|| format!("attestation {digest}"))?;
        let doc = serde_json::to_vec(&statement.predicate)?;
        let (_, attached) = provenant_sbom::parse_sbom(&doc, &format!("attached SBOM {digest}"))?;
        sbom.merge(attached);
    }
    Ok(sbom)
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let format: provenant_sbom::Format =
        a.format.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let mut sbom = if a.paths.is_empty() && a.python_env.is_empty() {
        provenant_sbom::Sbom::default()
    } else {
        let (paths, envs) = (a.paths.clone(), a.python_env.clone());
        tokio::task::spawn_blocking(move || provenant_sbom::catalog_sources(&paths, &envs))
            .await??
    };
    if let Some(r) = &a.model {
        let model = model_sbom(g, r).await?;
        sbom.subject = model.subject.clone();
        sbom.merge(model);
    }
    for w in &sbom.warnings {
        eprintln!("warning: {w}");
    }
    if !sbom.is_complete() {
        eprintln!(
            "SBOM is INCOMPLETE ({} warnings); the document says so",
            sbom.warnings.len()
        );
    }
    let opts = provenant_sbom::WriteOptions {
        timestamp: a.timestamp,
        serial: a.serial.clone(),
        include_package_files: a.include_files,
        ..Default::default()
    };
    let bytes = provenant_sbom::write(&sbom, format, &opts);
    match &a.output {
        Some(p) => {
            std::fs::write(p, &bytes).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!(
                "{} components written to {}",
                sbom.components.len(),
                p.display()
            );
        }
        None => crate::output::stdout_bytes(&bytes),
    }
    Ok(())
}
