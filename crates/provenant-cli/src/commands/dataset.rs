use std::path::PathBuf;

use crate::GlobalArgs;

/// Datasets: descriptors with digests for training recipes.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Hash a dataset directory or file (OMS hashing, file mode, SHA-256) and
    /// print its descriptor; `--json` carries `"digest": "sha256:<hex>"`
    Hash {
        /// Dataset directory or file
        path: PathBuf,
    },
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let Command::Hash { path } = c;
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        let d = provenant_provenance::hash_dataset(&path)?;
        if json {
            crate::output::json(&d)?;
        } else {
            println!("{}  {}", d.digest, d.uri);
            println!(
                "{} files, {}",
                d.files.unwrap_or(0),
                crate::output::size(i64::try_from(d.size.unwrap_or(0)).unwrap_or(i64::MAX))
            );
        }
        Ok(())
    })
    .await?
}
