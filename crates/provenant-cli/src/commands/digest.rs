use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::GlobalArgs;

/// Print a model's OMS root digest (file or shard mode), as `model_signing` computes it.
/// The signature file `model.sig` at the top of a directory is left out.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory or single file
    pub model: PathBuf,
    #[command(flatten)]
    pub hashing: super::oms::HashArgs,
    /// Also list every resource (algorithm, digest, name)
    #[arg(long)]
    pub resources: bool,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        let counter = Arc::new(AtomicU64::new(0));
        let mut o = a.hashing.options(&a.model)?;
        // Like `sign` and `verify`, leave the default signature file out.
        if a.model.is_dir() {
            o.ignore_paths.push(provenant_attest::DEFAULT_SIGNATURE_NAME.to_owned());
        }
        o.progress = Some(counter.clone());
        let d = super::oms::with_progress(&counter, || provenant_digest::hash_model(&a.model, &o))
            .map_err(|e| super::oms::refuse(e.into()))?;
        let root = provenant_digest::Digest::from_sha256_bytes(d.root_digest);
        if json {
            let resources: Vec<_> = d
                .resources
                .iter()
                .map(|r| serde_json::json!({"name": r.name.to_string(), "algorithm": r.algorithm, "digest": r.digest_hex()}))
                .collect();
            crate::output::json(&serde_json::json!({
                "digest": root,
                "resources": resources,
            }))?;
        } else {
            if a.resources {
                for r in &d.resources {
                    println!("{} {} {}", r.algorithm, r.digest_hex(), r.name);
                }
            }
            println!("{root}");
        }
        Ok(())
    })
    .await?
}
