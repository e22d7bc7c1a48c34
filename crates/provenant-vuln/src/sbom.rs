//! The part of an SBOM a scan needs: its components' package URLs, names and
//! versions. Reads CycloneDX JSON (1.4–1.6, nested components included,
//! <https://cyclonedx.org/docs/1.6/json/>) and SPDX 2.3 JSON (purls from
//! `externalRefs` of type `purl`, <https://spdx.github.io/spdx-spec/v2.3/>).

use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::VulnError;
use crate::purl::Purl;

/// Largest SBOM we read.
pub const MAX_SBOM_BYTES: u64 = 256 * 1024 * 1024;

/// One component of an SBOM.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: String,
    /// The installed version: the purl's version, else the SBOM's field.
    pub version: Option<String>,
    pub purl: Option<Purl>,
    /// The purl exactly as the SBOM wrote it.
    pub purl_text: Option<String>,
    /// CycloneDX `bom-ref` or SPDX `SPDXID`.
    pub bom_ref: Option<String>,
}

impl Component {
    /// A component from a purl alone (handy for tests and the server).
    pub fn from_purl(purl: &str) -> Result<Component, VulnError> {
        let p = Purl::parse(purl)?;
        Ok(Component {
            name: p.name.clone(),
            version: p.version.clone(),
            purl: Some(p),
            purl_text: Some(purl.to_string()),
            bom_ref: None,
        })
    }

    /// The purl for display: as written, else `name@version`.
    pub fn display_id(&self) -> String {
        match (&self.purl_text, &self.version) {
            (Some(p), _) => p.clone(),
            (None, Some(v)) => format!("{}@{v}", self.name),
            (None, None) => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    CycloneDx,
    Spdx,
}

/// The components of an SBOM, and what could not be read from it.
#[derive(Debug, Clone)]
pub struct Sbom {
    pub format: SbomFormat,
    /// What the SBOM describes (CycloneDX `metadata.component`, SPDX
    /// `documentDescribes`), when given.
    pub subject: Option<Component>,
    pub components: Vec<Component>,
    /// Components that could not be used fully (bad purl, …).
    pub warnings: Vec<String>,
}

/// Reads an SBOM file (size-limited).
pub fn read_sbom_file(path: &Path) -> Result<Sbom, VulnError> {
    let f = std::fs::File::open(path).map_err(|e| VulnError::io(path, e))?;
    let mut bytes = Vec::new();
    f.take(MAX_SBOM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| VulnError::io(path, e))?;
    let name = path.display().to_string();
    if bytes.len() as u64 > MAX_SBOM_BYTES {
        return Err(sbom_err(
            &name,
            "(document)",
            format!("larger than {MAX_SBOM_BYTES} bytes"),
        ));
    }
    parse_sbom(&bytes, &name)
}

fn sbom_err(source: &str, field: &str, message: String) -> VulnError {
    VulnError::Sbom {
        source_name: source.to_string(),
        field: field.to_string(),
        message,
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
}

#[derive(Deserialize)]
struct CdxBom {
    #[serde(default)]
    metadata: Option<CdxMetadata>,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxMetadata {
    #[serde(default)]
    component: Option<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxComponent {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default, rename = "bom-ref")]
    bom_ref: Option<String>,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct SpdxDoc {
    #[serde(default)]
    packages: Vec<SpdxPackage>,
    #[serde(default, rename = "documentDescribes")]
    document_describes: Vec<String>,
}

#[derive(Deserialize)]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(default, rename = "versionInfo")]
    version_info: Option<String>,
    #[serde(default, rename = "externalRefs")]
    external_refs: Vec<SpdxRef>,
}

#[derive(Deserialize)]
struct SpdxRef {
    #[serde(rename = "referenceType")]
    reference_type: String,
    #[serde(rename = "referenceLocator")]
    reference_locator: String,
}

fn typed<T: DeserializeOwned>(bytes: &[u8], source: &str) -> Result<T, VulnError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        sbom_err(source, &field, e.into_inner().to_string())
    })
}

/// Parses a CycloneDX or SPDX 2.x JSON SBOM.
pub fn parse_sbom(bytes: &[u8], source: &str) -> Result<Sbom, VulnError> {
    let probe: Probe = typed(bytes, source)?;
    let mut warnings = Vec::new();
    if probe.bom_format.as_deref() == Some("CycloneDX") {
        let bom: CdxBom = typed(bytes, source)?;
        let mut components = Vec::new();
        let mut stack: Vec<(String, CdxComponent)> = bom
            .components
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("components[{i}]"), c))
            .rev()
            .collect();
        while let Some((path, mut c)) = stack.pop() {
            let children = std::mem::take(&mut c.components);
            for (i, child) in children.into_iter().enumerate().rev() {
                stack.push((format!("{path}.components[{i}]"), child));
            }
            components.push(component(
                c.name,
                c.version,
                c.purl,
                c.bom_ref,
                &path,
                &mut warnings,
            ));
        }
        let subject = bom.metadata.and_then(|m| m.component).map(|c| {
            component(
                c.name,
                c.version,
                c.purl,
                c.bom_ref,
                "metadata.component",
                &mut warnings,
            )
        });
        return Ok(Sbom {
            format: SbomFormat::CycloneDx,
            subject,
            components,
            warnings,
        });
    }
    if probe
        .spdx_version
        .as_deref()
        .is_some_and(|v| v.starts_with("SPDX-2."))
    {
        let doc: SpdxDoc = typed(bytes, source)?;
        let mut subject = None;
        let mut components = Vec::new();
        for (i, p) in doc.packages.into_iter().enumerate() {
            let purl = p
                .external_refs
                .into_iter()
                .find(|r| r.reference_type == "purl")
                .map(|r| r.reference_locator);
            let described = doc.document_describes.contains(&p.spdx_id);
            let c = component(
                p.name,
                p.version_info,
                purl,
                Some(p.spdx_id),
                &format!("packages[{i}]"),
                &mut warnings,
            );
            if described && subject.is_none() {
                subject = Some(c.clone());
            }
            components.push(c);
        }
        return Ok(Sbom {
            format: SbomFormat::Spdx,
            subject,
            components,
            warnings,
        });
    }
    Err(sbom_err(
        source,
        "(document)",
        "neither CycloneDX JSON (bomFormat) nor SPDX 2.x JSON (spdxVersion)".into(),
    ))
}

fn component(
    name: String,
    version: Option<String>,
    purl_text: Option<String>,
    bom_ref: Option<String>,
    path: &str,
    warnings: &mut Vec<String>,
) -> Component {
    let purl = purl_text.as_deref().and_then(|t| match Purl::parse(t) {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!("{path}: {e}; component not matched"));
            None
        }
    });
    let version = purl
        .as_ref()
        .and_then(|p| p.version.clone())
        .or(version.filter(|v| !v.is_empty() && v != "NOASSERTION"));
    Component {
        name,
        version,
        purl,
        purl_text,
        bom_ref,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclonedx_nested_components() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6",
          "metadata":{"component":{"type":"machine-learning-model","name":"m","bom-ref":"root"}},
          "components":[
            {"type":"library","name":"requests","version":"2.19.0","purl":"pkg:pypi/requests@2.19.0",
             "components":[{"type":"library","name":"inner","purl":"pkg:pypi/inner@1.0"}]},
            {"type":"library","name":"broken","purl":"not-a-purl"}]}"#;
        let s = parse_sbom(doc, "bom.json").unwrap();
        assert_eq!(s.format, SbomFormat::CycloneDx);
        let names: Vec<_> = s.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["requests", "inner", "broken"]);
        assert_eq!(s.components[1].version.as_deref(), Some("1.0"));
        assert_eq!(s.subject.unwrap().bom_ref.as_deref(), Some("root"));
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].starts_with("components[1]"));
    }

    #[test]
    fn spdx_purls_from_external_refs() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","documentDescribes":["SPDXRef-root"],"packages":[
          {"name":"root","SPDXID":"SPDXRef-root","versionInfo":"1"},
          {"name":"urllib3","SPDXID":"SPDXRef-p1","versionInfo":"1.26.0",
           "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/urllib3@1.26.0"}]}]}"#;
        let s = parse_sbom(doc, "spdx.json").unwrap();
        assert_eq!(s.format, SbomFormat::Spdx);
        assert_eq!(s.subject.unwrap().name, "root");
        assert_eq!(s.components[1].purl.as_ref().unwrap().name, "urllib3");
    }

    #[test]
    fn malformed_sboms_name_the_field() {
        let e = parse_sbom(
            br#"{"bomFormat":"CycloneDX","components":[{"version":"1"}]}"#,
            "x.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("components[0]") && e.contains("name"), "{e}");
        assert!(parse_sbom(b"{}", "x").is_err());
        assert!(parse_sbom(b"[1,2]", "x").is_err());
        assert!(parse_sbom(b"", "x").is_err());
    }
}
