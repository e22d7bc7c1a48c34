use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::GlobalArgs;

/// Sign a model (directory or file) with an OMS signature (`model.sig`,
/// Sigstore bundle v0.3) that PyPI `model-signing` verifies.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory or single file
    pub model: PathBuf,
    /// Private key (PEM: PKCS#8, optionally encrypted, or SEC1)
    #[arg(long)]
    pub key: PathBuf,
    /// Environment variable holding the key's password
    #[arg(long)]
    pub password_env: Option<String>,
    /// Signing certificate (PEM) for certificate mode
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// Intermediate certificates (PEM), with --certificate
    #[arg(long = "certificate-chain", requires = "certificate")]
    pub certificate_chain: Vec<PathBuf>,
    /// Where to write the signature [default: MODEL/model.sig, or FILE.sig for a file]
    #[arg(long)]
    pub signature: Option<PathBuf>,
    #[command(flatten)]
    pub hashing: super::oms::HashArgs,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        let password = a
            .password_env
            .as_deref()
            .map(|v| {
                std::env::var(v)
                    .map(String::into_bytes)
                    .map_err(|_| anyhow::anyhow!("--password-env: {v} is not set"))
            })
            .transpose()?;
        let key = provenant_attest::PrivateKey::from_pem_file(&a.key, password.as_deref())
            .map_err(super::oms::refuse)?;
        let mut chain = Vec::new();
        if let Some(cert) = &a.certificate {
            chain = super::oms::certificates(std::slice::from_ref(cert))?;
            chain.extend(super::oms::certificates(&a.certificate_chain)?);
        }
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
        if json {
            crate::output::json(&serde_json::json!({
                "signature": signed.bundle_path,
                "digest": format!("sha256:{}", signed.digest.root_digest_hex()),
                "resources": signed.digest.resources.len(),
            }))?;
        } else {
            println!(
                "signed {} resources, root digest sha256:{} -> {}",
                signed.digest.resources.len(),
                signed.digest.root_digest_hex(),
                signed.bundle_path.display()
            );
        }
        Ok(())
    })
    .await?
}
