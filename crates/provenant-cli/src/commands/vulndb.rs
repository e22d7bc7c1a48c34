use std::path::PathBuf;

use provenant_api::{VulnDbImport, VulnDbImportBody, VulnDbStatus};

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
        #[arg(long, env = "PROVENANT_VULNDB", conflicts_with = "server")]
        db: Option<PathBuf>,
        /// Import into the registry server's database instead (admin token; --url/PROVENANT_URL);
        /// the server then re-scans every version with an attached SBOM
        #[arg(long)]
        server: bool,
    },
    /// Show the registry server's vulnerability database (generation, records, last update)
    Status,
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
    let (path, db) = match c {
        Command::Import {
            path, server: true, ..
        } => return import_to_server(g, path).await,
        Command::Status => {
            let status: VulnDbStatus = g.client()?.get_json("api/v1/vulndb").await?;
            if g.json {
                crate::output::json(&status)?;
            } else {
                let by = if status.updated_by.is_empty() {
                    "?"
                } else {
                    &status.updated_by
                };
                println!(
                    "generation {}, {} records{}",
                    status.generation,
                    status.records,
                    status
                        .updated_at
                        .as_deref()
                        .map(|t| format!(", updated {t} by {by}"))
                        .unwrap_or_default()
                );
            }
            return Ok(());
        }
        Command::Import { path, db, .. } => (path, db),
    };
    let dir = db_dir(db);
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let db = open_db(&dir, true).await?;
    let mut index = db.load().await?;
    let (index, report) = tokio::task::spawn_blocking(move || {
        let report = index.import(&path);
        (index, report)
    })
    .await?;
    let report = report?;
    if report.added + report.updated + report.removed > 0 {
        db.save(&index, "local").await?;
    }
    db.close().await;
    for issue in &report.issues {
        eprintln!("warning: {issue}");
    }
    if g.json {
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
}

/// File name of the local database (embedded SQLite) in the database directory.
pub const DB_FILE: &str = "osv.db";

/// Opens the local database in `dir`; unless `create`, a missing database is
/// an error that says how to make one.
pub async fn open_db(
    dir: &std::path::Path,
    create: bool,
) -> anyhow::Result<provenant_registry::LocalVulnDb> {
    let path = dir.join(DB_FILE);
    if !create && !path.exists() {
        anyhow::bail!(
            "no vulnerability database at {} (run `provenant vulndb import <path> --db {}` first)",
            path.display(),
            dir.display()
        );
    }
    Ok(provenant_registry::LocalVulnDb::open(&path).await?)
}

/// Reads the source locally (reporting malformed records with file and field)
/// and sends the records to the server as the complete content of the source.
async fn import_to_server(g: &GlobalArgs, path: PathBuf) -> anyhow::Result<()> {
    let client = g.client()?;
    let p = path.clone();
    let (source, records) = tokio::task::spawn_blocking(move || {
        let canonical =
            std::fs::canonicalize(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        // The server names the source by its last path component (a path on
        // this machine means nothing there).
        let source = canonical.file_name().map_or_else(
            || canonical.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut records = Vec::new();
        for item in provenant_vuln::read_source(&p)? {
            match item.result {
                Ok(r) => records.push(serde_json::to_value(&r)?),
                Err(e) => eprintln!("warning: {}: {}: {}", item.file, e.field, e.message),
            }
        }
        anyhow::Ok((source, records))
    })
    .await??;
    let (_, report): (_, VulnDbImport) = client
        .send_json(
            reqwest::Method::POST,
            "api/v1/vulndb/import",
            &VulnDbImportBody { source, records },
        )
        .await?;
    for issue in &report.issues {
        eprintln!("warning: {issue}");
    }
    if g.json {
        crate::output::json(&report)?;
    } else {
        println!(
            "{}: {} added, {} updated, {} removed, {} unchanged, {} skipped ({} withdrawn)",
            report.source,
            report.added,
            report.updated,
            report.removed,
            report.unchanged,
            report.skipped,
            report.withdrawn
        );
        println!(
            "{} records on the server (generation {}); {} versions re-scanned, {} new findings",
            report.records, report.generation, report.rescanned, report.new_findings
        );
    }
    Ok(())
}
