use std::path::PathBuf;

use anyhow::bail;

use crate::GlobalArgs;

/// Generate a signing key: writes KEY (PKCS#8 PEM, mode 0600) and KEY.pub beside it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key type
    #[arg(long = "type", default_value = "ecdsa-p256", value_parser = ["ecdsa-p256", "ecdsa-p384", "ed25519"])]
    pub key_type: String,
    /// Private key file to write (not a `.pub` path: the public key goes there)
    #[arg(long)]
    pub out: PathBuf,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    // The public key is written to OUT with extension `.pub`: a `.pub` OUT would
    // have it overwrite the private key. Usage error (exit 2), before any work.
    if a.out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pub"))
    {
        bail!(
            "--out {}: refusing to write the private key to a .pub path (the public key is \
             written beside it as {} and would overwrite it); use e.g. --out {}",
            a.out.display(),
            a.out.with_extension("pub").display(),
            a.out.with_extension("pem").display(),
        );
    }
    let alg: provenant_attest::KeyAlgorithm = a.key_type.parse().map_err(super::oms::refuse)?;
    let key = provenant_attest::PrivateKey::generate(alg).map_err(super::oms::refuse)?;
    // Writing fails on existing files or I/O: exit 2, like any I/O error.
    let public = key.write_pem_files(&a.out).map_err(anyhow::Error::new)?;
    if g.json {
        crate::output::json(
            &serde_json::json!({"private_key": a.out, "public_key": public, "type": a.key_type}),
        )?;
    } else {
        println!("{}\n{}", a.out.display(), public.display());
    }
    Ok(())
}
