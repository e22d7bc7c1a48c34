use crate::GlobalArgs;

/// Known vulnerabilities of a version, from the server's scans of its attached
/// SBOMs (re-scanned whenever the server's OSV database changes).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Version: ns/name:N, ns/name@sha256:…, ns/name#alias or ns/name (latest)
    pub reference: String,
    /// Include findings that no longer match (advisory withdrawn or changed)
    #[arg(long)]
    pub resolved: bool,
    /// Exit 1 when an open finding is at least this severe (unknown severity counts)
    #[arg(long, value_parser = ["critical", "high", "medium", "low"])]
    pub fail_on: Option<String>,
}

fn rank(level: &str) -> u8 {
    match level {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let client = g.client()?;
    let v = super::resolve(&client, &a.reference).await?;
    let path = format!(
        "{}/findings{}",
        super::version_path(&v),
        if a.resolved { "?resolved=true" } else { "" }
    );
    let view: serde_json::Value = client.get_json(&path).await?;
    let findings = view["findings"].as_array().cloned().unwrap_or_default();
    if g.json {
        crate::output::json(&view)?;
    } else if view["scanned"] != true {
        println!(
            "{}: not scanned (no SBOM attached; see `provenant attach --sbom`)",
            v.reference
        );
    } else {
        println!(
            "{} ({} components, scanned {} against database generation {})",
            v.reference,
            view["components"],
            view["scanned_at"].as_str().unwrap_or("?"),
            view["generation"]
        );
        if findings.is_empty() {
            println!("no known vulnerabilities");
        } else {
            let mut rows = Vec::new();
            for f in &findings {
                let d = &f["finding"];
                rows.push(vec![
                    d["id"].as_str().unwrap_or("?").to_owned(),
                    d["severity"]["level"]
                        .as_str()
                        .unwrap_or("unknown")
                        .to_owned(),
                    d["package"].as_str().unwrap_or("?").to_owned(),
                    d["installed_version"].as_str().unwrap_or("?").to_owned(),
                    d["fixed_versions"]
                        .as_array()
                        .map(|v| {
                            v.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "-".into()),
                    f["first_seen"].as_str().unwrap_or("?").to_owned(),
                    match f["resolved_at"].as_str() {
                        Some(t) => format!("resolved {t}"),
                        None => "open".into(),
                    },
                ]);
            }
            crate::output::table(
                &[
                    "ADVISORY",
                    "SEVERITY",
                    "PACKAGE",
                    "INSTALLED",
                    "FIXED IN",
                    "FIRST SEEN",
                    "STATUS",
                ],
                &rows,
            );
        }
        for w in view["warnings"].as_array().into_iter().flatten() {
            eprintln!("warning: {}", w.as_str().unwrap_or_default());
        }
    }
    if let Some(threshold) = &a.fail_on {
        let t = rank(threshold);
        let failing = findings
            .iter()
            .filter(|f| f["resolved_at"].is_null())
            .filter(|f| {
                let level = f["finding"]["severity"]["level"]
                    .as_str()
                    .unwrap_or("unknown");
                level == "unknown" || rank(level) >= t
            })
            .count();
        if failing > 0 {
            return Err(super::scan::GateFailed {
                count: failing,
                threshold: threshold.clone(),
            }
            .into());
        }
    }
    Ok(())
}
