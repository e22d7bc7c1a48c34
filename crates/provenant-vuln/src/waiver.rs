//! `waivers.yaml`: exceptions on record, each with its reason, approver and
//! expiry date.
//!
//! ```yaml
//! waivers:
//!   - id: CVE-2023-32681            # advisory id or any alias
//!     purl: pkg:pypi/requests@2.*   # package-URL pattern, `*` matches anything
//!     reason: proxy credentials are never used by the model server
//!     approver: alice@example.com
//!     expires: 2025-06-30           # last day the waiver suppresses (UTC)
//! ```
//!
//! Every field is required; a missing or empty one, an unknown field, or an
//! invalid date is a load error naming the entry. Two entries with the same
//! id and the same pattern conflict (which reason and expiry would hold?) and
//! are an error too. A pattern without `@version` covers every version; the
//! name is compared after the ecosystem's normalisation (PEP 503 for PyPI).

use serde::Deserialize;

use crate::error::VulnError;
use provenant_sbom::Purl;

use crate::purl::PurlMatch;
use crate::time::Date;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// 1-based position in the file, for messages.
    pub entry: usize,
    pub id: String,
    pub purl: String,
    pub reason: String,
    pub approver: String,
    pub expires: Date,
    pattern: Pattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    ty: String,
    /// `namespace/name` or `name`, normalised; may contain `*`.
    path: String,
    version: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Waivers {
    pub source: String,
    pub waivers: Vec<Waiver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    waivers: Vec<RawWaiver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// Parses and validates a waivers file.
pub fn parse_waivers(bytes: &[u8], source: &str) -> Result<Waivers, VulnError> {
    let err = |entry: String, message: String| VulnError::Waiver {
        source_name: source.to_string(),
        entry,
        message,
    };
    if !crate::osv::yaml_nesting_ok(bytes) {
        return Err(err("(file)".into(), "YAML nested too deeply".into()));
    }
    let de = serde_norway::Deserializer::from_slice(bytes);
    let raw: RawFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let entry = path
            .strip_prefix("waivers[")
            .and_then(|r| r.split_once(']'))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .map_or_else(|| "(file)".to_string(), |n| format!("#{}", n + 1));
        err(entry, format!("{path}: {}", e.into_inner()))
    })?;
    let mut waivers: Vec<Waiver> = Vec::with_capacity(raw.waivers.len());
    for (i, w) in raw.waivers.into_iter().enumerate() {
        let entry = match &w.id {
            Some(id) => format!("#{} ({id})", i + 1),
            None => format!("#{}", i + 1),
        };
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let missing: Vec<&str> = [
            ("id", &w.id),
            ("purl", &w.purl),
            ("reason", &w.reason),
            ("approver", &w.approver),
            ("expires", &w.expires),
        ]
        .into_iter()
        .filter(|(_, v)| !present(v))
        .map(|(n, _)| n)
        .collect();
        if !missing.is_empty() {
            return Err(err(
                entry,
                format!("missing required field(s): {}", missing.join(", ")),
            ));
        }
        let (Some(id), Some(purl), Some(reason), Some(approver), Some(expires)) =
            (w.id, w.purl, w.reason, w.approver, w.expires)
        else {
            // All five were checked present just above.
            return Err(err(entry, "missing required fields".into()));
        };
        let expires_date = Date::parse(expires.trim()).ok_or_else(|| {
            err(
                entry.clone(),
                format!("expires {expires:?} is not a YYYY-MM-DD date"),
            )
        })?;
        let pattern = parse_pattern(purl.trim()).map_err(|m| err(entry.clone(), m))?;
        let id = id.trim().to_string();
        if let Some(prev) = waivers
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(&id) && p.pattern == pattern)
        {
            return Err(VulnError::ConflictingWaivers {
                source_name: source.to_string(),
                first: prev.entry,
                second: i + 1,
                id,
                pattern: purl,
            });
        }
        waivers.push(Waiver {
            entry: i + 1,
            id,
            purl: purl.trim().to_string(),
            reason: reason.trim().to_string(),
            approver: approver.trim().to_string(),
            expires: expires_date,
            pattern,
        });
    }
    Ok(Waivers {
        source: source.to_string(),
        waivers,
    })
}

fn parse_pattern(text: &str) -> Result<Pattern, String> {
    // Parse with the wildcards replaced by a placeholder the purl grammar accepts.
    let placeholder = "\u{1}";
    let p = Purl::parse(&text.replace('*', "%01")).map_err(|e| format!("purl pattern: {e}"))?;
    let unstar = |s: &str| s.replace(placeholder, "*");
    let name = unstar(p.name());
    let name = match p.ecosystem() {
        Some(e) => e.normalize_name(&name),
        None => name,
    };
    let path = match p.namespace() {
        Some(ns) => format!("{}/{name}", unstar(&ns.to_ascii_lowercase())),
        None => name,
    };
    Ok(Pattern {
        ty: p.ty().to_string(),
        path,
        version: p.version().map(unstar),
    })
}

impl Waiver {
    /// Whether this waiver names one of `ids` and its pattern covers `purl`.
    pub fn covers(&self, ids: &[&str], purl: &Purl) -> bool {
        if !ids.iter().any(|i| i.eq_ignore_ascii_case(&self.id)) || purl.ty() != self.pattern.ty {
            return false;
        }
        let name = match purl.ecosystem() {
            Some(e) => e.normalize_name(purl.name()),
            None => purl.name().to_string(),
        };
        let path = match purl.namespace() {
            Some(ns) => format!("{}/{name}", ns.to_ascii_lowercase()),
            None => name,
        };
        if !glob(&self.pattern.path, &path) {
            return false;
        }
        match (&self.pattern.version, purl.version()) {
            (None, _) => true,
            (Some(pv), Some(v)) => glob(pv, v),
            (Some(_), None) => false,
        }
    }

    /// Whether the waiver still suppresses on `today` (expiry day included).
    pub fn active_on(&self, today: Date) -> bool {
        today <= self.expires
    }
}

/// `*` matches any run of characters (including none); everything else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "waivers:\n- id: CVE-2023-32681\n  purl: pkg:pypi/Requests@2.*\n  reason: not reachable\n  approver: alice\n  expires: 2025-06-30\n- id: PYSEC-2021-1\n  purl: pkg:npm/*\n  reason: r\n  approver: bob\n  expires: '2024-01-01'\n";

    #[test]
    fn parses_and_matches_patterns() {
        let w = parse_waivers(FILE.as_bytes(), "w.yaml").unwrap();
        assert_eq!(w.waivers.len(), 2);
        let p = |s: &str| Purl::parse(s).unwrap();
        let first = &w.waivers[0];
        assert!(first.covers(
            &["PYSEC-1", "cve-2023-32681"],
            &p("pkg:pypi/requests@2.19.0")
        ));
        assert!(!first.covers(&["CVE-2023-32681"], &p("pkg:pypi/requests@3.0")));
        assert!(!first.covers(&["CVE-2023-0000"], &p("pkg:pypi/requests@2.19.0")));
        assert!(w.waivers[1].covers(&["PYSEC-2021-1"], &p("pkg:npm/%40scope/x@1.0.0")));
        assert!(first.active_on(Date::parse("2025-06-30").unwrap()));
        assert!(!first.active_on(Date::parse("2025-07-01").unwrap()));
    }

    #[test]
    fn missing_fields_and_conflicts_are_load_errors() {
        let no_reason = FILE.replace("  reason: not reachable\n", "");
        let e = parse_waivers(no_reason.as_bytes(), "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("#1 (CVE-2023-32681)") && e.contains("reason"),
            "{e}"
        );
        let no_expiry = FILE.replace("  expires: '2024-01-01'\n", "");
        let e = parse_waivers(no_expiry.as_bytes(), "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("#2 (PYSEC-2021-1)") && e.contains("expires"),
            "{e}"
        );
        let bad_date = FILE.replace("2025-06-30", "next year");
        assert!(
            parse_waivers(bad_date.as_bytes(), "w")
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
        let typo = FILE.replace("approver: bob", "approved: bob");
        let e = parse_waivers(typo.as_bytes(), "w").unwrap_err().to_string();
        assert!(e.contains("#2") && e.contains("approved"), "{e}");
        let dup = format!(
            "{FILE}- id: cve-2023-32681\n  purl: pkg:pypi/requests@2.*\n  reason: other\n  approver: eve\n  expires: 2030-01-01\n"
        );
        let e = parse_waivers(dup.as_bytes(), "w").unwrap_err();
        assert!(
            matches!(
                e,
                VulnError::ConflictingWaivers {
                    first: 1,
                    second: 3,
                    ..
                }
            ),
            "{e}"
        );
        assert!(parse_waivers(b"[", "w").is_err());
    }

    #[test]
    fn globbing() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(glob("2.*", "2.19.0"));
        assert!(!glob("2.*", "12.0"));
        assert!(glob("*x*y", "axbxy"));
        assert!(!glob("abc", "abcd"));
    }
}
