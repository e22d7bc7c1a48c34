//! OpenVEX v0.2 documents (<https://github.com/openvex/spec/blob/main/OPENVEX-SPEC.md>):
//! statements that a vulnerability does or does not affect products named by
//! package URL.
//!
//! How statements act on findings: a statement applies to a finding when its
//! vulnerability name or one of its aliases is the finding's id or one of its
//! aliases, and one of its products or subcomponents is the finding's
//! package (a product purl without a version covers every version). When
//! several statements apply, the latest (statement timestamp, else document
//! timestamp, else document order) wins, as the spec's "later statements
//! supersede" rule says. `not_affected` and `fixed` suppress the finding with
//! the justification/impact statement as reason; `affected` and
//! `under_investigation` keep it unsuppressed and add a note.

use serde::Deserialize;

use crate::error::VulnError;
use provenant_sbom::Purl;

use crate::purl::PurlMatch;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }
}

/// One statement, flattened: products and subcomponents as parsed purls.
#[derive(Debug, Clone)]
pub struct VexStatement {
    /// Position in the document's `statements`.
    pub index: usize,
    pub vulnerability: String,
    pub aliases: Vec<String>,
    /// Product and subcomponent purls, with the text as written.
    pub products: Vec<(String, Purl)>,
    pub status: VexStatus,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    pub action_statement: Option<String>,
    /// The statement's timestamp, else the document's.
    pub timestamp: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct VexDocument {
    /// File name for messages.
    pub source: String,
    pub id: Option<String>,
    pub statements: Vec<VexStatement>,
    /// Products named by something other than a purl (cannot be matched).
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "@context")]
    context: String,
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    statements: Vec<RawStatement>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawVuln {
    Name(String),
    Object {
        #[serde(default)]
        name: Option<String>,
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawProduct {
    Id(String),
    Object {
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        identifiers: Option<RawIdentifiers>,
        #[serde(default)]
        subcomponents: Vec<RawProduct>,
    },
}

#[derive(Deserialize)]
struct RawIdentifiers {
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawStatement {
    vulnerability: RawVuln,
    #[serde(default)]
    products: Vec<RawProduct>,
    status: String,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    action_statement: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// Parses and validates an OpenVEX document.
pub fn parse_vex(bytes: &[u8], source: &str) -> Result<VexDocument, VulnError> {
    let err = |field: String, message: String| VulnError::Vex {
        source_name: source.to_string(),
        field,
        message,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw: RawDoc = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| err(e.path().to_string(), e.into_inner().to_string()))?;
    if !raw.context.starts_with("https://openvex.dev/ns") {
        return Err(err(
            "@context".into(),
            format!("{:?} is not an OpenVEX context", raw.context),
        ));
    }
    let doc_time = match &raw.timestamp {
        Some(t) => Some(
            Timestamp::parse(t)
                .ok_or_else(|| err("timestamp".into(), format!("{t:?} is not RFC 3339")))?,
        ),
        None => None,
    };
    let mut statements = Vec::new();
    let mut warnings = Vec::new();
    for (i, s) in raw.statements.into_iter().enumerate() {
        let at = |f: &str| format!("statements[{i}].{f}");
        let (vulnerability, aliases) = match s.vulnerability {
            RawVuln::Name(n) => (n, Vec::new()),
            RawVuln::Object { name, id, aliases } => match name.or(id) {
                Some(n) => (n, aliases),
                None => return Err(err(at("vulnerability"), "no name".into())),
            },
        };
        let status = match s.status.as_str() {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            other => return Err(err(at("status"), format!("unknown status {other:?}"))),
        };
        if let Some(j) = &s.justification
            && !JUSTIFICATIONS.contains(&j.as_str())
        {
            return Err(err(
                at("justification"),
                format!("unknown justification {j:?}"),
            ));
        }
        if status == VexStatus::NotAffected
            && s.justification.is_none()
            && s.impact_statement.is_none()
        {
            return Err(err(
                at("justification"),
                "not_affected needs a justification or an impact_statement".into(),
            ));
        }
        let timestamp = match &s.timestamp {
            Some(t) => Some(
                Timestamp::parse(t)
                    .ok_or_else(|| err(at("timestamp"), format!("{t:?} is not RFC 3339")))?,
            ),
            None => doc_time,
        };
        let mut products = Vec::new();
        let mut queue: Vec<(String, RawProduct)> = s
            .products
            .into_iter()
            .enumerate()
            .map(|(k, p)| (at(&format!("products[{k}]")), p))
            .collect();
        while let Some((path, p)) = queue.pop() {
            let (ids, subs) = match p {
                RawProduct::Id(id) => (vec![id], Vec::new()),
                RawProduct::Object {
                    id,
                    identifiers,
                    subcomponents,
                } => {
                    let mut ids: Vec<String> = id.into_iter().collect();
                    ids.extend(identifiers.and_then(|x| x.purl));
                    (ids, subcomponents)
                }
            };
            let mut any = false;
            for id in ids {
                if id.starts_with("pkg:") {
                    let purl = Purl::parse(&id).map_err(|e| err(path.clone(), e.to_string()))?;
                    if !products.iter().any(|(t, _)| *t == id) {
                        products.push((id, purl));
                    }
                    any = true;
                }
            }
            if !any && subs.is_empty() {
                warnings.push(format!(
                    "{source}: {path}: product has no package URL; statement cannot match it"
                ));
            }
            for (k, sub) in subs.into_iter().enumerate() {
                queue.push((format!("{path}.subcomponents[{k}]"), sub));
            }
        }
        statements.push(VexStatement {
            index: i,
            vulnerability,
            aliases,
            products,
            status,
            justification: s.justification,
            impact_statement: s.impact_statement,
            action_statement: s.action_statement,
            timestamp,
        });
    }
    Ok(VexDocument {
        source: source.to_string(),
        id: raw.id,
        statements,
        warnings,
    })
}

/// Whether a VEX/waiver product purl covers a component's purl: same type,
/// namespace and (normalised) name; a version on the product must equal the
/// component's. Qualifiers are not compared.
pub(crate) fn purl_covers(product: &Purl, component: &Purl) -> bool {
    if product.package_key() != component.package_key() {
        return false;
    }
    match (product.version(), component.version()) {
        (None, _) => true,
        (Some(pv), Some(cv)) => {
            pv == cv
                || component
                    .ecosystem()
                    .and_then(|e| e.scheme())
                    .is_some_and(|s| matches!((s.parse(pv), s.parse(cv)), (Ok(a), Ok(b)) if a == b))
        }
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://example.com/vex/1",
      "author": "sec@example.com",
      "timestamp": "2024-05-01T00:00:00Z",
      "version": 1,
      "statements": [
        {"vulnerability": {"name": "CVE-2023-32681", "aliases": ["GHSA-j8r2-6x86-q33q"]},
         "products": [{"@id": "pkg:pypi/requests@2.19.0"}],
         "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        {"vulnerability": {"name": "CVE-2000-1"},
         "products": [{"@id": "pkg:oci/model", "subcomponents": [{"@id": "pkg:pypi/urllib3"}]}],
         "status": "under_investigation", "timestamp": "2024-06-01T00:00:00Z"}
      ]}"#;

    #[test]
    fn parses_v02_documents() {
        let d = parse_vex(DOC.as_bytes(), "vex.json").unwrap();
        assert_eq!(d.statements.len(), 2);
        assert_eq!(d.statements[0].status, VexStatus::NotAffected);
        assert_eq!(d.statements[0].aliases, ["GHSA-j8r2-6x86-q33q"]);
        let names: Vec<_> = d.statements[1]
            .products
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        assert!(names.contains(&"pkg:pypi/urllib3") && names.contains(&"pkg:oci/model"));
        assert!(d.statements[1].timestamp > d.statements[0].timestamp);
    }

    #[test]
    fn invalid_documents_are_errors_with_the_field() {
        let e = parse_vex(DOC.replace("not_affected", "fine").as_bytes(), "v")
            .unwrap_err()
            .to_string();
        assert!(e.contains("statements[0].status"), "{e}");
        let e = parse_vex(
            DOC.replace(
                r#", "justification": "vulnerable_code_not_in_execute_path""#,
                "",
            )
            .as_bytes(),
            "v",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs a justification"), "{e}");
        let e = parse_vex(DOC.replace("openvex.dev", "example.com").as_bytes(), "v")
            .unwrap_err()
            .to_string();
        assert!(e.contains("@context"), "{e}");
        assert!(parse_vex(b"{", "v").is_err());
    }

    #[test]
    fn product_coverage() {
        let p = |s: &str| Purl::parse(s).unwrap();
        assert!(purl_covers(
            &p("pkg:pypi/Requests"),
            &p("pkg:pypi/requests@2.19.0")
        ));
        assert!(purl_covers(
            &p("pkg:pypi/requests@2.19"),
            &p("pkg:pypi/requests@2.19.0")
        ));
        assert!(!purl_covers(
            &p("pkg:pypi/requests@2.20.0"),
            &p("pkg:pypi/requests@2.19.0")
        ));
        assert!(!purl_covers(
            &p("pkg:npm/requests"),
            &p("pkg:pypi/requests@2.19.0")
        ));
    }
}
