use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::GlobalArgs;

/// Sign a model (directory or file) with an OMS signature (`model.sig`,
/// Sigstore bundle v0.3) that PyPI `model-signing` verifies.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("key", |a| a.required(true)),
    mut_arg("certificate_chain", |a| a.requires("certificate"))
)]
pub struct Args {
    /// Model directory or single file
    pub model: PathBuf,
    #[command(flatten)]
    pub signing: super::signing::SigningFlags,
    /// Where to write the signature [default: MODEL/model.sig, or FILE.sig for a file]
    #[arg(long)]
    pub signature: Option<PathBuf>,
    #[command(flatten)]
    pub hashing: super::oms::HashArgs,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        let key = a.signing.private_key(a.signing.key_for("sign")?)?;
        let chain = a.signing.chain()?;
        let counter = Arc::new(AtomicU64::new(0));
        let mut hashing = a.hashing.options(&a.model)?;
        hashing.progress = Some(counter.clone());
        let opts = provenant_attest::SignOptions {
            hashing,
            signature_path: a.signature.clone(),
            certificate_chain: chain,
        };
        let signed = super::oms::with_progress(&counter, || {
            provenant_attest::sign_model(&a.model, &key, &opts)
        })
        .map_err(super::oms::refuse)?;
        let root = provenant_digest::Digest::from_sha256_bytes(signed.digest.root_digest);
        if json {
            crate::output::json(&serde_json::json!({
                "signature": signed.bundle_path,
                "digest": root,
                "resources": signed.digest.resources.len(),
            }))?;
        } else {
            println!(
                "signed {} resources, root digest {root} -> {}",
                signed.digest.resources.len(),
                signed.bundle_path.display()
            );
        }
        Ok(())
    })
    .await?
}
