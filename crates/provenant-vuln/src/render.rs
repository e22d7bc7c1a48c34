//! Scan report renderers: a table for people, JSON for machines, and SARIF
//! 2.1.0 (<https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html>)
//! for code-scanning UIs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::error::VulnError;
use crate::scan::{Finding, ScanReport};
use crate::severity::Level;

/// A plain-text table, one finding per line, then a summary and warnings.
pub fn render_table(report: &ScanReport) -> String {
    let headers = [
        "SEVERITY",
        "ID",
        "PACKAGE",
        "INSTALLED",
        "FIXED IN",
        "STATUS",
    ];
    let rows: Vec<[String; 6]> = report
        .findings
        .iter()
        .map(|f| {
            let sev = match f.severity.score {
                Some(s) => format!("{} {s:.1}", f.severity.level),
                None => f.severity.level.to_string(),
            };
            let status = match (&f.suppressed_reason, f.notes.is_empty()) {
                (Some(r), _) => format!("suppressed: {r}"),
                (None, false) => format!("open; {}", f.notes.join("; ")),
                (None, true) => "open".to_string(),
            };
            [
                sev,
                f.id.clone(),
                format!("{} ({})", f.package, f.ecosystem),
                f.installed_version.clone(),
                if f.fixed_versions.is_empty() {
                    "-".into()
                } else {
                    f.fixed_versions.join(", ")
                },
                status,
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()).take(5) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 6]| {
        for (i, c) in cells.iter().enumerate() {
            if i < 5 {
                let _ = write!(out, "{c:<width$}  ", width = widths[i]);
            } else {
                out.push_str(c);
            }
        }
        out.push('\n');
    };
    if rows.is_empty() {
        out.push_str("No known vulnerabilities found.\n");
    } else {
        line(&mut out, headers);
        for r in &rows {
            line(&mut out, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
        }
    }
    let suppressed = report.findings.len() - report.unsuppressed();
    let _ = writeln!(
        out,
        "\n{} finding(s) ({} suppressed) in {} component(s) against {} advisories.",
        report.findings.len(),
        suppressed,
        report.components,
        report.database_records
    );
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// Summary counts of unsuppressed findings by severity level.
fn by_level(report: &ScanReport) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for f in report.findings.iter().filter(|f| !f.suppressed) {
        *m.entry(f.severity.level.as_str()).or_default() += 1;
    }
    m
}

/// The report as JSON (`schema: provenant.scan/v1`).
pub fn render_json(report: &ScanReport) -> Result<String, VulnError> {
    let v = json!({
        "schema": "provenant.scan/v1",
        "components": report.components,
        "database_records": report.database_records,
        "summary": {
            "findings": report.findings.len(),
            "unsuppressed": report.unsuppressed(),
            "unsuppressed_by_severity": by_level(report),
        },
        "findings": report.findings,
        "warnings": report.warnings,
    });
    serde_json::to_string_pretty(&v).map_err(|e| VulnError::Render {
        message: e.to_string(),
    })
}

fn sarif_level(f: &Finding) -> &'static str {
    match f.severity.level {
        Level::Critical | Level::High | Level::Unknown => "error",
        Level::Medium => "warning",
        Level::Low | Level::None => "note",
    }
}

/// GitHub's `security-severity` property: the CVSS score, else a
/// representative score for the level.
fn security_severity(f: &Finding) -> Option<String> {
    let score = f.severity.score.or(match f.severity.level {
        Level::Critical => Some(9.0),
        Level::High => Some(7.0),
        Level::Medium => Some(4.0),
        Level::Low => Some(0.1),
        Level::None | Level::Unknown => None,
    })?;
    Some(format!("{score:.1}"))
}

/// The report as a SARIF 2.1.0 log. `artifact_uri` is the scanned SBOM.
pub fn render_sarif(report: &ScanReport, artifact_uri: &str) -> Result<String, VulnError> {
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules: Vec<Value> = Vec::new();
    for f in &report.findings {
        if rule_index.contains_key(f.id.as_str()) {
            continue;
        }
        rule_index.insert(&f.id, rules.len());
        let text = f.summary.clone().unwrap_or_else(|| f.id.clone());
        let mut props = json!({
            "tags": ["security", "vulnerability"],
            "aliases": f.aliases,
            "severity": f.severity.level,
        });
        if let Some(s) = security_severity(f) {
            props["security-severity"] = json!(s);
        }
        let mut rule = json!({
            "id": f.id,
            "name": f.id,
            "shortDescription": {"text": text},
            "fullDescription": {"text": text},
            "defaultConfiguration": {"level": sarif_level(f)},
            "properties": props,
        });
        if let Some(u) = &f.url {
            rule["helpUri"] = json!(u);
        }
        rules.push(rule);
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let fixed = if f.fixed_versions.is_empty() {
                "no fixed version known".to_string()
            } else {
                format!("fixed in {}", f.fixed_versions.join(", "))
            };
            let mut r = json!({
                "ruleId": f.id,
                "ruleIndex": rule_index.get(f.id.as_str()).copied().unwrap_or(0),
                "level": sarif_level(f),
                "message": {"text": format!(
                    "{} {} is affected by {} ({}); {}",
                    f.package, f.installed_version, f.id, f.severity.level, fixed
                )},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": artifact_uri}},
                    "logicalLocations": [{"name": f.purl, "kind": "package"}],
                }],
                "partialFingerprints": {"provenant/v1": f.fingerprint()},
                "properties": {
                    "purl": f.purl,
                    "installedVersion": f.installed_version,
                    "fixedVersions": f.fixed_versions,
                    "notes": f.notes,
                },
            });
            if let Some(reason) = &f.suppressed_reason {
                r["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": reason,
                }]);
            }
            r
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "provenant",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://ossf.github.io/osv-schema/",
                "rules": rules,
            }},
            "artifacts": [{"location": {"uri": artifact_uri}}],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).map_err(|e| VulnError::Render {
        message: e.to_string(),
    })
}
