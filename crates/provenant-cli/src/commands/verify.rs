use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::GlobalArgs;

/// Verify a model's OMS signature with a public key or against trusted root
/// certificates. Names the file or field and the reason on failure (exit 1).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory or single file
    pub model: PathBuf,
    /// Public key (PEM)
    #[arg(
        long,
        required_unless_present = "certificate_chain",
        conflicts_with = "certificate_chain"
    )]
    pub key: Option<PathBuf>,
    /// Trusted root certificates (PEM) for certificate mode
    #[arg(long = "certificate-chain")]
    pub certificate_chain: Vec<PathBuf>,
    /// Signature file [default: MODEL/model.sig, or FILE.sig for a file]
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Accept files that the signature does not cover
    #[arg(long)]
    pub ignore_unsigned_files: bool,
    /// Paths to leave out
    #[arg(long = "ignore-paths", num_args = 1.., value_name = "PATH")]
    pub ignore_paths: Vec<String>,
    /// Follow symlinks that stay inside the model
    #[arg(long)]
    pub allow_symlinks: bool,
    /// Hashing threads [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        let trust = match &a.key {
            Some(k) => {
                provenant_attest::TrustRoot::PublicKey(crate::keyfile::public_key(k, "--key")?)
            }
            None => provenant_attest::TrustRoot::Certificates(super::oms::certificates(
                &a.certificate_chain,
            )?),
        };
        let counter = Arc::new(AtomicU64::new(0));
        let mut opts = provenant_attest::VerifyOptions::new(trust);
        opts.signature_path = a.signature.clone();
        opts.ignore_unsigned_files = a.ignore_unsigned_files;
        opts.allow_symlinks = a.allow_symlinks;
        opts.ignore_paths = super::oms::resolve_ignores(&a.model, &a.ignore_paths);
        opts.progress = Some(counter.clone());
        opts.threads = a.threads;
        // Fail closed: any problem, even an unreadable signature, is a failed verification.
        let v =
            super::oms::with_progress(&counter, || provenant_attest::verify_model(&a.model, &opts))
                .map_err(|e| super::oms::Refused(e.to_string()))?;
        if json {
            crate::output::json(&serde_json::json!({
                "verified": true,
                "signer": v.identity.to_string(),
                "resources": v.manifest.resources.len(),
            }))?;
        } else {
            println!(
                "verified: {} resources signed by {}",
                v.manifest.resources.len(),
                v.identity
            );
        }
        Ok(())
    })
    .await?
}
