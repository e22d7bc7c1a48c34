use std::path::PathBuf;

use crate::GlobalArgs;

/// Scan an SBOM (CycloneDX or SPDX JSON) against the local OSV database, with
/// OpenVEX statements and waivers applied. Any other path (a directory, lock
/// file, site-packages, OCI layout or image tarball) is catalogued first, as
/// `provenant sbom` would. Exit 1 when an unsuppressed finding meets
/// --fail-on, 0 otherwise, 2 on error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// SBOM file (CycloneDX 1.x JSON or SPDX 2.3 JSON), or a path to catalog first
    pub sbom: PathBuf,
    /// Database directory (see `vulndb import`)
    #[arg(long, env = "PROVENANT_VULNDB")]
    pub db: Option<PathBuf>,
    /// OpenVEX v0.2 document (repeatable)
    #[arg(long = "vex", value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// waivers.yaml (id, purl pattern, reason, approver, expires)
    #[arg(long)]
    pub waivers: Option<PathBuf>,
    /// Fail (exit 1) when an unsuppressed finding is at least this severe; unrated findings count (fail closed)
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// SARIF 2.1.0 output for code-scanning UIs
    #[arg(long, conflicts_with = "json")]
    pub sarif: bool,
}

/// A `--fail-on` threshold (`scan` and `findings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
}

impl FailOn {
    pub fn level(self) -> provenant_vuln::Level {
        match self {
            Self::Critical => provenant_vuln::Level::Critical,
            Self::High => provenant_vuln::Level::High,
            Self::Medium => provenant_vuln::Level::Medium,
            Self::Low => provenant_vuln::Level::Low,
        }
    }

    /// Whether a finding of severity `level` counts against this threshold
    /// ([`provenant_vuln::Level::meets`]: at or above it, or unrated).
    pub fn counts(self, level: provenant_vuln::Level) -> bool {
        level.meets(self.level())
    }
}

/// The gate tripped: `count` findings count against `threshold` (those at or
/// above it, and unrated ones).
#[derive(Debug, thiserror::Error)]
#[error("{count} {what} finding(s) at or above {} or unrated (--fail-on {})", .threshold.level(), .threshold.level())]
pub struct GateFailed {
    pub count: usize,
    /// `unsuppressed` (scan) or `open` (findings).
    pub what: &'static str,
    pub threshold: FailOn,
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let json = g.json;
    // Read the SBOM while the database loads.
    let sbom_path = a.sbom.clone();
    let sbom_task = tokio::task::spawn_blocking(move || read_or_catalog(&sbom_path));
    let db = super::vulndb::open_db(&super::vulndb::db_dir(a.db.clone()), false).await?;
    let index = db.load().await?;
    db.close().await;
    let sbom = sbom_task.await??;
    tokio::task::spawn_blocking(move || {
        // The process ends after one scan: leave the database, SBOM and report
        // to the OS instead of freeing tens of thousands of small allocations.
        let index = std::mem::ManuallyDrop::new(index);
        let sbom = std::mem::ManuallyDrop::new(sbom);
        let vex = a
            .vex
            .iter()
            .map(|p| provenant_vuln::read_vex_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        let waivers = a
            .waivers
            .as_deref()
            .map(provenant_vuln::read_waivers_file)
            .transpose()?;
        let opts = provenant_vuln::ScanOptions {
            vex: &vex,
            waivers: waivers.as_ref(),
            ..Default::default()
        };
        let report = std::mem::ManuallyDrop::new(provenant_vuln::scan(&index, &sbom, &opts));
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        if a.sarif {
            println!(
                "{}",
                provenant_vuln::render_sarif(&report, &a.sbom.display().to_string())?
            );
        } else if json {
            println!("{}", provenant_vuln::render_json(&report)?);
        } else {
            print!("{}", provenant_vuln::render_table(&report));
        }
        if let Some(threshold) = a.fail_on {
            let count = report
                .findings
                .iter()
                .filter(|f| !f.suppressed && threshold.counts(f.severity.level))
                .count();
            if count > 0 {
                return Err(GateFailed {
                    count,
                    what: "unsuppressed",
                    threshold,
                }
                .into());
            }
        }
        Ok(())
    })
    .await?
}

/// Whether the file holds a CycloneDX or SPDX JSON document (by its first bytes
/// and the marker fields), without reading a large non-JSON file whole.
fn looks_like_sbom(path: &std::path::Path) -> bool {
    use std::io::Read as _;
    if !path.is_file() {
        return false;
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    head.trim_start().starts_with('{')
        && (head.contains("\"bomFormat\"") || head.contains("\"spdxVersion\""))
}

/// The SBOM at `path`, or the SBOM of cataloguing `path` when it is not one: either
/// way the one SBOM model of `provenant-sbom`, which the scan reads as it is.
fn read_or_catalog(path: &std::path::Path) -> anyhow::Result<provenant_sbom::Sbom> {
    if looks_like_sbom(path) {
        let (_format, sbom) = provenant_sbom::read_sbom(path)?;
        return Ok(sbom);
    }
    let sbom = provenant_sbom::catalog_path(path)?;
    for w in &sbom.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "catalogued {} components from {}",
        sbom.components.len(),
        path.display()
    );
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogued_path_is_scanned_as_catalogued() {
        let dir = tempfile::tempdir().unwrap();
        let req = dir.path().join("requirements.txt");
        std::fs::write(&req, "Boolean.py==5.0\nrequests==2.19.0\n").unwrap();
        let sbom = read_or_catalog(&req).unwrap();
        // The cataloguer's model itself, not a document written and read back.
        assert_eq!(sbom, provenant_sbom::catalog_path(&req).unwrap());
        let purls: Vec<_> = sbom
            .components
            .iter()
            .filter_map(|c| c.purl.as_deref())
            .collect();
        assert_eq!(
            purls,
            ["pkg:pypi/boolean.py@5.0", "pkg:pypi/requests@2.19.0"]
        );
    }

    #[test]
    fn an_sbom_file_is_read_with_the_one_parser() {
        let dir = tempfile::tempdir().unwrap();
        let bom = dir.path().join("bom.json");
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
            {"type":"library","name":"boolean.py","version":"5.0","purl":"pkg:pypi/boolean.py@5.0"}]}"#;
        std::fs::write(&bom, doc).unwrap();
        let sbom = read_or_catalog(&bom).unwrap();
        assert_eq!(sbom, provenant_sbom::parse_sbom(doc, "x").unwrap().1);
        assert_eq!(sbom.components[0].name, "boolean.py");
    }
}
