//! The format-neutral SBOM model that catalogers fill and writers serialise.

use std::collections::{BTreeMap, BTreeSet};

use provenant_digest::{Digest, DigestAlgorithm};

use crate::purl::{Purl, PurlError};

/// What kind of thing a component is (CycloneDX `component.type`; SPDX `primaryPackagePurpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum ComponentKind {
    /// A library / package (Python distribution, crate, npm package, OS package).
    #[default]
    Library,
    /// An application or a project root (e.g. a workspace member of a lock file).
    Application,
    /// A container image.
    Container,
    /// An operating system (the distribution of a container image).
    OperatingSystem,
    /// A machine-learning model (CycloneDX ML-BOM).
    MachineLearningModel,
    /// A single file.
    File,
}

impl ComponentKind {
    /// The CycloneDX 1.6 `component.type` value.
    pub fn cyclonedx(self) -> &'static str {
        match self {
            Self::Library => "library",
            Self::Application => "application",
            Self::Container => "container",
            Self::OperatingSystem => "operating-system",
            Self::MachineLearningModel => "machine-learning-model",
            Self::File => "file",
        }
    }

    /// The SPDX 2.3 `primaryPackagePurpose` value (SPDX 2.3 has no model purpose: `OTHER`).
    pub fn spdx(self) -> &'static str {
        match self {
            Self::Library => "LIBRARY",
            Self::Application => "APPLICATION",
            Self::Container => "CONTAINER",
            Self::OperatingSystem => "OPERATING-SYSTEM",
            Self::MachineLearningModel => "OTHER",
            Self::File => "FILE",
        }
    }

    pub(crate) fn from_cyclonedx(s: &str) -> Option<Self> {
        Some(match s {
            "library" | "framework" => Self::Library,
            "application" | "platform" | "device" | "firmware" => Self::Application,
            "container" => Self::Container,
            "operating-system" => Self::OperatingSystem,
            "machine-learning-model" => Self::MachineLearningModel,
            "file" | "data" => Self::File,
            _ => return None,
        })
    }

    pub(crate) fn from_spdx(s: &str) -> Self {
        match s {
            "APPLICATION" => Self::Application,
            "CONTAINER" => Self::Container,
            "OPERATING-SYSTEM" => Self::OperatingSystem,
            "FILE" => Self::File,
            _ => Self::Library,
        }
    }
}

/// Hash algorithms we record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum HashAlg {
    /// SHA-1 (npm legacy integrity, Alpine `C:` fields).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512 (npm integrity).
    Sha512,
}

impl HashAlg {
    /// CycloneDX `hash.alg` spelling.
    pub fn cyclonedx(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// SPDX `checksum.algorithm` spelling.
    pub fn spdx(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }

    /// Length of the lowercase hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha1 => 40,
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Self::Sha1,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            _ => return None,
        })
    }
}

/// A digest: algorithm plus lowercase hex value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash {
    /// Algorithm.
    pub alg: HashAlg,
    /// Lowercase hex.
    pub hex: String,
}

impl Hash {
    /// A hash from an algorithm and a hex string; `None` if the hex is malformed.
    pub fn new(alg: HashAlg, hex: &str) -> Option<Self> {
        let hex = hex.to_ascii_lowercase();
        (hex.len() == alg.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Self { alg, hex })
    }

    /// Parse `sha256:abcd…` / `sha256=abcd…` (hex).
    pub fn parse_prefixed(s: &str) -> Option<Self> {
        let (alg, hex) = s.split_once([':', '='])?;
        Self::new(HashAlg::parse(alg)?, hex.trim())
    }

    /// A hash from raw digest bytes.
    pub fn from_bytes(alg: HashAlg, bytes: &[u8]) -> Option<Self> {
        (bytes.len() * 2 == alg.hex_len()).then(|| Self {
            alg,
            hex: crate::util::hex(bytes),
        })
    }
}

/// The hash of a content [`Digest`] (SHA-256 or SHA-512), in the SBOM formats' shape.
impl From<&Digest> for Hash {
    fn from(digest: &Digest) -> Self {
        let alg = match digest.algorithm() {
            DigestAlgorithm::Sha256 => HashAlg::Sha256,
            DigestAlgorithm::Sha512 => HashAlg::Sha512,
        };
        Self {
            alg,
            hex: digest.hex(),
        }
    }
}

/// A licence as declared by the package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum License {
    /// A valid SPDX licence expression (single identifier or compound).
    Spdx(String),
    /// Free text that is not an SPDX expression (kept verbatim, trimmed).
    Named(String),
}

/// The organisation or person that supplies a component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Supplier {
    /// Display name.
    pub name: String,
    /// E-mail, if declared.
    pub email: Option<String>,
}

/// One file of a component (Python `RECORD` entry, model file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileEntry {
    /// Path relative to the component root (as recorded).
    pub path: String,
    /// Its hashes (usually one SHA-256).
    pub hashes: Vec<Hash>,
    /// Size in bytes, when recorded.
    pub size: Option<u64>,
    /// Extra facts about the file (`provenant:model:format`, ...).
    pub properties: BTreeMap<String, String>,
}

/// A reference to an outside resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalRef {
    /// CycloneDX `externalReference.type` (`website`, `vcs`, `distribution`, ...).
    pub kind: String,
    /// URL.
    pub url: String,
}

/// One component of an SBOM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Component {
    /// Kind.
    pub kind: ComponentKind,
    /// Identifier unique in the SBOM (usually the purl).
    pub bom_ref: String,
    /// Name.
    pub name: String,
    /// Version (`None` when unknown, e.g. an unpinned requirement).
    pub version: Option<String>,
    /// Package URL, as written (see [`Component::package_url`] for its parts).
    pub purl: Option<String>,
    /// Short description.
    pub description: Option<String>,
    /// Declared licences.
    pub licenses: Vec<License>,
    /// Supplier.
    pub supplier: Option<Supplier>,
    /// Hashes of the component itself (artifact hashes, image digest, model root digest).
    pub hashes: Vec<Hash>,
    /// External references.
    pub external_refs: Vec<ExternalRef>,
    /// Extra facts (`provenant:*` names), sorted by name.
    pub properties: BTreeMap<String, String>,
    /// Files of the component with their hashes.
    pub files: Vec<FileEntry>,
    /// CycloneDX `modelCard` (machine-learning-model components only).
    pub model_card: Option<serde_json::Value>,
}

/// A problem met while cataloging that did not stop it: the SBOM is then marked incomplete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Warning {
    /// The file concerned.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// What happened.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

/// A format-neutral SBOM: components, `depends-on` edges, the subject and warnings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sbom {
    /// What the SBOM describes (CycloneDX `metadata.component`, SPDX `documentDescribes`);
    /// when `None`, writers describe every top-level component.
    pub subject: Option<Component>,
    /// All components, unique by `bom_ref`.
    pub components: Vec<Component>,
    /// `bom_ref` → the `bom_ref`s it depends on.
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
    /// `bom_ref` → the `bom_ref`s it contains (image → packages, environment → distributions).
    pub contains: BTreeMap<String, BTreeSet<String>>,
    /// Problems that make the SBOM incomplete.
    pub warnings: Vec<Warning>,
}

impl Sbom {
    /// True when no cataloger reported a problem: every source was read whole.
    pub fn is_complete(&self) -> bool {
        self.warnings.is_empty()
    }

    /// Find a component by `bom_ref` (the subject included).
    pub fn component(&self, bom_ref: &str) -> Option<&Component> {
        self.subject
            .iter()
            .chain(self.components.iter())
            .find(|c| c.bom_ref == bom_ref)
    }

    /// Add a component; one with the same `bom_ref` is merged into the existing one
    /// (missing fields filled, hashes/licences/refs/properties unioned).
    pub fn add(&mut self, c: Component) {
        if let Some(existing) = self.components.iter_mut().find(|e| e.bom_ref == c.bom_ref) {
            merge_into(existing, c);
        } else {
            self.components.push(c);
        }
    }

    /// Merge another SBOM into this one (several sources → one SBOM).
    pub fn merge(&mut self, other: Sbom) {
        if let Some(s) = other.subject {
            if self.subject.is_none() {
                self.subject = Some(s);
            } else {
                self.add(s);
            }
        }
        let mut index: BTreeMap<String, usize> = self
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.bom_ref.clone(), i))
            .collect();
        for c in other.components {
            match index.get(&c.bom_ref) {
                Some(&i) => merge_into(&mut self.components[i], c),
                None => {
                    index.insert(c.bom_ref.clone(), self.components.len());
                    self.components.push(c);
                }
            }
        }
        for (k, v) in other.dependencies {
            self.dependencies.entry(k).or_default().extend(v);
        }
        for (k, v) in other.contains {
            self.contains.entry(k).or_default().extend(v);
        }
        self.warnings.extend(other.warnings);
    }

    /// Make one component of PyPI components that are one package spelled two ways. Package
    /// URLs keep a PyPI name's dots (`pkg:pypi/zope.interface`), but lock files may record the
    /// PEP 503 form (`zope-interface`): cataloguing both an environment and its lock file must
    /// not list the package twice. Components whose PEP 503 name and version agree are merged
    /// into the one whose name keeps dots (an installed distribution's own spelling), else the
    /// first, and edges to the others are redirected to it.
    pub fn coalesce_pypi_spellings(&mut self) {
        let key = |c: &Component| {
            let p = c.package_url()?.ok()?;
            (p.ty() == "pypi" && p.namespace().is_none()).then(|| {
                format!(
                    "{}@{}",
                    crate::util::pep503(p.name()),
                    p.version().unwrap_or_default()
                )
            })
        };
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, c) in self.components.iter().enumerate() {
            if let Some(k) = key(c) {
                groups.entry(k).or_default().push(i);
            }
        }
        let mut renamed: BTreeMap<String, String> = BTreeMap::new();
        let mut drop = BTreeSet::new();
        for members in groups.values().filter(|m| m.len() > 1) {
            let keeper = members
                .iter()
                .copied()
                .find(|&i| {
                    self.components[i]
                        .package_url()
                        .and_then(Result::ok)
                        .is_some_and(|p| p.name().contains('.'))
                })
                .unwrap_or(members[0]);
            for &i in members.iter().filter(|&&i| i != keeper) {
                let c = self.components[i].clone();
                renamed.insert(c.bom_ref.clone(), self.components[keeper].bom_ref.clone());
                merge_into(&mut self.components[keeper], c);
                drop.insert(i);
            }
        }
        if renamed.is_empty() {
            return;
        }
        let mut i = 0;
        self.components.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
        let to = |r: String| renamed.get(&r).cloned().unwrap_or(r);
        for map in [&mut self.dependencies, &mut self.contains] {
            let old = std::mem::take(map);
            for (from, tos) in old {
                let from = to(from);
                let tos: BTreeSet<String> = tos.into_iter().map(to).collect();
                map.entry(from).or_default().extend(tos);
            }
            for (from, tos) in map.iter_mut() {
                tos.remove(from);
            }
        }
    }

    /// A copy for a writer: the per-file lists of package components are left out unless
    /// they will be written (they can be most of an environment's SBOM in memory).
    pub(crate) fn for_writing(&self, include_package_files: bool) -> Sbom {
        let strip = |c: &Component| {
            if include_package_files
                || c.kind == ComponentKind::MachineLearningModel
                || c.files.is_empty()
            {
                c.clone()
            } else {
                c.clone_without_files()
            }
        };
        let mut s = Sbom {
            subject: self.subject.as_ref().map(strip),
            // bom-refs are unique across the document, the subject included.
            components: self
                .components
                .iter()
                .filter(|c| self.subject.as_ref().is_none_or(|s| s.bom_ref != c.bom_ref))
                .map(strip)
                .collect(),
            dependencies: self.dependencies.clone(),
            contains: self.contains.clone(),
            warnings: self.warnings.clone(),
        };
        s.normalize();
        s
    }

    /// Sort components, hashes and warnings so that writers are deterministic.
    pub fn normalize(&mut self) {
        self.components.sort_by(|a, b| a.bom_ref.cmp(&b.bom_ref));
        for c in self.subject.iter_mut().chain(self.components.iter_mut()) {
            c.hashes.sort();
            c.hashes.dedup();
            c.licenses.dedup();
            c.external_refs.sort();
            c.external_refs.dedup();
            c.files.sort();
            c.files.dedup_by(|a, b| a.path == b.path);
        }
        self.warnings.sort();
        self.warnings.dedup();
        // Drop edges to components that are not in the SBOM (e.g. an optional dependency
        // not installed): a dangling reference is invalid in both formats.
        let known: BTreeSet<String> = self
            .subject
            .iter()
            .chain(self.components.iter())
            .map(|c| c.bom_ref.clone())
            .collect();
        for map in [&mut self.dependencies, &mut self.contains] {
            map.retain(|k, _| known.contains(k));
            for v in map.values_mut() {
                v.retain(|r| known.contains(r));
            }
        }
    }
}

impl Component {
    /// A library component named by a package URL alone: name and version come from the
    /// purl, which is also its `bom_ref`.
    pub fn from_purl(purl: &str) -> Result<Component, PurlError> {
        let p = Purl::parse(purl)?;
        Ok(Component {
            kind: ComponentKind::Library,
            bom_ref: purl.to_string(),
            name: p.name().to_string(),
            version: p.version().map(str::to_string),
            purl: Some(purl.to_string()),
            ..Component::default()
        })
    }

    /// The package URL, parsed; `None` when the component has none.
    pub fn package_url(&self) -> Option<Result<Purl, PurlError>> {
        self.purl.as_deref().map(Purl::parse)
    }

    fn clone_without_files(&self) -> Component {
        Component {
            kind: self.kind,
            bom_ref: self.bom_ref.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            purl: self.purl.clone(),
            description: self.description.clone(),
            licenses: self.licenses.clone(),
            supplier: self.supplier.clone(),
            hashes: self.hashes.clone(),
            external_refs: self.external_refs.clone(),
            properties: self.properties.clone(),
            files: Vec::new(),
            model_card: self.model_card.clone(),
        }
    }
}

fn merge_into(existing: &mut Component, c: Component) {
    if existing.version.is_none() {
        existing.version = c.version;
    }
    if existing.purl.is_none() {
        existing.purl = c.purl;
    }
    if existing.description.is_none() {
        existing.description = c.description;
    }
    if existing.licenses.is_empty() {
        existing.licenses = c.licenses;
    }
    if existing.supplier.is_none() {
        existing.supplier = c.supplier;
    }
    if existing.model_card.is_none() {
        existing.model_card = c.model_card;
    }
    for h in c.hashes {
        if !existing.hashes.contains(&h) {
            existing.hashes.push(h);
        }
    }
    for r in c.external_refs {
        if !existing.external_refs.contains(&r) {
            existing.external_refs.push(r);
        }
    }
    for (k, v) in c.properties {
        match existing.properties.get_mut(&k) {
            Some(old) if *old != v && k == crate::PROP_FOUND_IN => {
                if !old.split('\n').any(|x| x == v) {
                    old.push('\n');
                    old.push_str(&v);
                }
            }
            Some(_) => {}
            None => {
                existing.properties.insert(k, v);
            }
        }
    }
    if existing.files.is_empty() {
        existing.files = c.files;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pypi_package_spelled_two_ways_is_one_component() {
        let mut sbom = Sbom::default();
        for purl in [
            "pkg:pypi/app@1.0",
            "pkg:pypi/zope-interface@6.4",
            "pkg:pypi/zope.interface@6.4",
            "pkg:pypi/zope.interface@7.0",
        ] {
            sbom.add(Component::from_purl(purl).unwrap());
        }
        sbom.dependencies.insert(
            "pkg:pypi/app@1.0".into(),
            ["pkg:pypi/zope-interface@6.4".to_string()].into(),
        );
        sbom.contains.insert(
            "pkg:pypi/zope-interface@6.4".into(),
            ["pkg:pypi/zope.interface@6.4".to_string()].into(),
        );
        sbom.coalesce_pypi_spellings();
        let refs: Vec<_> = sbom.components.iter().map(|c| c.bom_ref.as_str()).collect();
        assert_eq!(
            refs,
            [
                "pkg:pypi/app@1.0",
                "pkg:pypi/zope.interface@6.4",
                "pkg:pypi/zope.interface@7.0"
            ]
        );
        assert_eq!(
            sbom.dependencies["pkg:pypi/app@1.0"],
            ["pkg:pypi/zope.interface@6.4".to_string()].into()
        );
        // No component contains itself after the merge.
        assert!(sbom.contains.values().all(BTreeSet::is_empty));
    }
}
