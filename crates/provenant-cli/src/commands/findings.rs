use provenant_api::{FindingView, FindingsView};

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

/// The fields of a scanner's finding (`FindingView::finding`) the table and
/// the gate read; any of them may be missing.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Advisory {
    id: Option<String>,
    package: Option<String>,
    installed_version: Option<String>,
    fixed_versions: Vec<serde_json::Value>,
    severity: Rating,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Rating {
    level: Option<String>,
}

impl Advisory {
    fn of(f: &FindingView) -> Self {
        serde_json::from_value(f.finding.clone()).unwrap_or_default()
    }
}

/// The severity level of a finding as the server shows it; anything the
/// server did not rate (or rated in a way this client does not know) is
/// `Unknown`, which counts against every threshold.
fn level_of(finding: &FindingView) -> provenant_vuln::Level {
    Advisory::of(finding)
        .severity
        .level
        .as_deref()
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
    let view: FindingsView = client.get_json(&path).await?;
    if g.json {
        crate::output::json(&view)?;
    } else if !view.scanned {
        println!(
            "{}: not scanned (no SBOM attached; see `provenant attach --sbom`)",
            v.reference
        );
    } else {
        println!(
            "{} ({} components, scanned {} against database generation {})",
            v.reference,
            view.components,
            view.scanned_at.as_deref().unwrap_or("?"),
            view.generation
        );
        if view.findings.is_empty() {
            println!("no known vulnerabilities");
        } else {
            let mut rows = Vec::new();
            for f in &view.findings {
                let d = Advisory::of(f);
                let fixed: Vec<&str> = d.fixed_versions.iter().filter_map(|x| x.as_str()).collect();
                rows.push(vec![
                    d.id.unwrap_or_else(|| "?".into()),
                    d.severity.level.unwrap_or_else(|| "unknown".into()),
                    d.package.unwrap_or_else(|| "?".into()),
                    d.installed_version.unwrap_or_else(|| "?".into()),
                    if fixed.is_empty() {
                        "-".into()
                    } else {
                        fixed.join(", ")
                    },
                    f.first_seen.clone(),
                    match &f.resolved_at {
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
        for w in &view.warnings {
            eprintln!("warning: {w}");
        }
    }
    if let Some(threshold) = a.fail_on {
        let failing = view
            .findings
            .iter()
            .filter(|f| f.resolved_at.is_none() && threshold.counts(level_of(f)))
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
    use provenant_api::FindingView;

    #[test]
    fn one_rule_for_the_gate() {
        let view = |finding: serde_json::Value| FindingView {
            finding,
            first_seen: String::new(),
            last_seen: String::new(),
            resolved_at: None,
        };
        let f = |level: &str| view(serde_json::json!({"severity": {"level": level}}));
        let counts = |t: FailOn, level: &str| t.counts(super::level_of(&f(level)));
        assert!(counts(FailOn::Critical, "critical"));
        assert!(!counts(FailOn::Critical, "high"));
        assert!(!counts(FailOn::Critical, "medium"));
        assert!(counts(FailOn::Critical, "unknown"), "unrated counts");
        assert!(counts(FailOn::Medium, "high"));
        assert!(!counts(FailOn::Low, "none"));
        assert!(counts(FailOn::Low, "low"));
        assert!(counts(FailOn::High, "something new"), "unrated counts");
        let unrated = view(serde_json::json!({}));
        assert!(FailOn::Critical.counts(super::level_of(&unrated)));
    }
}
