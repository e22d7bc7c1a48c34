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
    /// Exit 1 when an open finding is at least this severe; unrated findings count (fail closed)
    #[arg(long, value_enum)]
    pub fail_on: Option<super::scan::FailOn>,
}

/// The severity level of a finding as the server shows it; anything the
/// server did not rate (or rated in a way this client does not know) is
/// `Unknown`, which counts against every threshold.
fn level_of(finding: &serde_json::Value) -> provenant_vuln::Level {
    finding["finding"]["severity"]["level"]
        .as_str()
        .and_then(provenant_vuln::Level::from_rating)
        .unwrap_or(provenant_vuln::Level::Unknown)
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
    if let Some(threshold) = a.fail_on {
        let failing = findings
            .iter()
            .filter(|f| f["resolved_at"].is_null() && threshold.counts(level_of(f)))
            .count();
        if failing > 0 {
            return Err(super::scan::GateFailed {
                count: failing,
                what: "open",
                threshold,
            }
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::scan::FailOn;

    #[test]
    fn one_rule_for_the_gate() {
        let f = |level: &str| serde_json::json!({"finding": {"severity": {"level": level}}});
        let counts = |t: FailOn, level: &str| t.counts(super::level_of(&f(level)));
        assert!(counts(FailOn::Critical, "critical"));
        assert!(!counts(FailOn::Critical, "high"));
        assert!(!counts(FailOn::Critical, "medium"));
        assert!(counts(FailOn::Critical, "unknown"), "unrated counts");
        assert!(counts(FailOn::Medium, "high"));
        assert!(!counts(FailOn::Low, "none"));
        assert!(counts(FailOn::Low, "low"));
        assert!(counts(FailOn::High, "something new"), "unrated counts");
        let unrated = serde_json::json!({"finding": {}});
        assert!(FailOn::Critical.counts(super::level_of(&unrated)));
    }
}
