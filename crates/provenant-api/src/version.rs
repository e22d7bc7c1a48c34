//! Versions: their state, files and the views of them the API answers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use provenant_digest::Digest;
use serde_json::value::RawValue;

use crate::{AttestationView, SignatureView};

/// Lifecycle of a version: `active` → `deprecated` → `archived` (each with a
/// reason). Serialised as those lowercase words.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum VersionState {
    Active,
    Deprecated,
    Archived,
}

impl VersionState {
    /// Every state, in lifecycle order.
    pub const ALL: [VersionState; 3] = [Self::Active, Self::Deprecated, Self::Archived];

    /// The state as it goes over the wire and into the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deprecated => "deprecated",
            Self::Archived => "archived",
        }
    }

    /// The state of a wire or database word; `None` for any other word.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a version state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVersionState(pub String);

impl fmt::Display for UnknownVersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown version state {:?} (active, deprecated or archived)",
            self.0
        )
    }
}

impl std::error::Error for UnknownVersionState {}

impl FromStr for VersionState {
    type Err = UnknownVersionState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownVersionState(s.to_owned()))
    }
}

/// A file of a version, its digest parsed: what a version read lists and
/// what the registry builds manifests from and checks signatures against.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ManifestFile {
    pub path: String,
    /// `sha256:<hex>`.
    #[schema(value_type = String)]
    pub digest: provenant_digest::Digest,
    pub size: u64,
}

/// A JSON document carried as it is. The server writes a stored document
/// (canonical JSON validated when it was stored) without parsing it again
/// ([`JsonDocument::Raw`]); a client reads one as a value
/// ([`JsonDocument::Value`]). Both serialise to the same JSON.
#[derive(Clone, Debug)]
pub enum JsonDocument {
    Raw(Box<RawValue>),
    Value(serde_json::Value),
}

impl JsonDocument {
    /// The document as a value (parsed when it is raw; `Null` if the raw
    /// text does not parse, which a `RawValue` always does).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Raw(r) => serde_json::from_str(r.get()).unwrap_or(serde_json::Value::Null),
            Self::Value(v) => v.clone(),
        }
    }

    /// About how many bytes the document takes as JSON (exact when raw).
    pub fn json_len(&self) -> usize {
        match self {
            Self::Raw(r) => r.get().len(),
            Self::Value(v) => serde_json::to_string(v).map_or(0, |s| s.len()),
        }
    }
}

impl Default for JsonDocument {
    fn default() -> Self {
        Self::Value(serde_json::Value::Null)
    }
}

impl From<Box<RawValue>> for JsonDocument {
    fn from(r: Box<RawValue>) -> Self {
        Self::Raw(r)
    }
}

impl From<serde_json::Value> for JsonDocument {
    fn from(v: serde_json::Value) -> Self {
        Self::Value(v)
    }
}

impl serde::Serialize for JsonDocument {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Raw(r) => r.serialize(s),
            Self::Value(v) => v.serialize(s),
        }
    }
}

impl<'de> serde::Deserialize<'de> for JsonDocument {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(Self::Value)
    }
}

/// A version as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VersionView {
    pub model: String,
    pub number: i64,
    pub reference: String,
    #[schema(value_type = String)]
    pub digest: Digest,
    pub state: VersionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_by: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub size: i64,
    pub file_count: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// As stored: the canonical JSON validated when the version was
    /// published, written out without parsing it again.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JsonDocument,
    #[schema(value_type = String)]
    pub metadata_digest: Digest,
    #[schema(value_type = String)]
    pub config_digest: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<ManifestFile>>,
    /// OMS signatures attached to the version (single-version reads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Vec<SignatureView>>,
    /// Signed attestations (SBOMs, provenance) attached to the version (single-version reads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestations: Option<Vec<AttestationView>>,
}

/// Result of a publish: the version and whether it was newly created.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Published {
    pub created: bool,
    pub version: VersionView,
    /// Digests of the attachments the request carried, in its order (find
    /// each in `version.signatures` / `version.attestations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub attached: Vec<Digest>,
}

/// A page of a listing.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_words() {
        for s in VersionState::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.as_str())
            );
            assert_eq!(s.as_str().parse::<VersionState>(), Ok(s));
        }
        assert!("retired".parse::<VersionState>().is_err());
    }

    #[test]
    fn raw_and_parsed_documents_serialise_alike() {
        let raw = RawValue::from_string(r#"{"a":1,"b":[true]}"#.to_owned()).unwrap();
        let a = serde_json::to_string(&JsonDocument::from(raw)).unwrap();
        let parsed: JsonDocument = serde_json::from_str(&a).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), a);
        assert_eq!(parsed.json_len(), a.len());
    }
}
