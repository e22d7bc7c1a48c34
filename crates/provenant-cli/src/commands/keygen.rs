use std::path::PathBuf;

use crate::GlobalArgs;

/// Generate a signing key: writes KEY (PKCS#8 PEM, mode 0600) and KEY.pub beside it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key type
    #[arg(long = "type", default_value = "ecdsa-p256", value_parser = ["ecdsa-p256", "ecdsa-p384", "ed25519"])]
    pub key_type: String,
    /// Private key file to write
    #[arg(long)]
    pub out: PathBuf,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let alg: provenant_attest::KeyAlgorithm = a.key_type.parse().map_err(super::oms::refuse)?;
    let key = provenant_attest::PrivateKey::generate(alg).map_err(super::oms::refuse)?;
    let public = key.write_pem_files(&a.out).map_err(super::oms::refuse)?;
    if g.json {
        crate::output::json(
            &serde_json::json!({"private_key": a.out, "public_key": public, "type": a.key_type}),
        )?;
    } else {
        println!("{}\n{}", a.out.display(), public.display());
    }
    Ok(())
}
