use std::path::PathBuf;

use crate::GlobalArgs;

/// The local OSV vulnerability database.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import OSV records: a directory of JSON/YAML files (e.g. the PyPA advisory
    /// database), an OSV `all.zip` export, or one record. Re-importing updates
    /// changed records, removes withdrawn and vanished ones, and reports counts.
    Import {
        /// Directory, .zip or single record file
        path: PathBuf,
        /// Database directory [default: $XDG_DATA_HOME/provenant/vulndb or ~/.local/share/provenant/vulndb]
        #[arg(long, env = "PROVENANT_VULNDB")]
        db: Option<PathBuf>,
    },
}

/// The database directory from the flag, else the per-user default.
pub fn db_dir(db: Option<PathBuf>) -> PathBuf {
    db.unwrap_or_else(|| {
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("provenant/vulndb")
    })
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    use provenant_vuln::IndexStore as _;
    let Command::Import { path, db } = c;
    let dir = db_dir(db);
    let json = g.json;
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let store = provenant_vuln::FileStore::new(&dir);
        let mut index = store.load()?.unwrap_or_default();
        let report = index.import(&path)?;
        store.save(&index)?;
        for issue in &report.issues {
            eprintln!("warning: {issue}");
        }
        if json {
            crate::output::json(&serde_json::json!({
                "db": dir,
                "source": report.source,
                "added": report.added,
                "updated": report.updated,
                "removed": report.removed,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
                "withdrawn": report.withdrawn,
                "issues": report.issues.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "records": index.len(),
            }))?;
        } else {
            println!("{report}");
            println!("{} records in {}", index.len(), dir.display());
        }
        Ok(())
    })
    .await?
}
