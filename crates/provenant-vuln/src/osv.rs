//! Typed OSV records (<https://ossf.github.io/osv-schema/>), read from JSON or
//! from the YAML encoding of the PyPA advisory database.
//!
//! Parsing is two steps: serde maps the document onto the types below (every
//! type error names its field path, via `serde_path_to_error`), then
//! [`validate`] checks the rules the schema states in prose (one key per
//! event, at least one `introduced` per range, RFC 3339 timestamps).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::time::Timestamp;

/// Largest single record we accept (the biggest real OSV records are ~2 MiB).
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// One OSV vulnerability record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    pub id: String,
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `severity[]` (top level or per `affected` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityEntry {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// `affected[]`: one package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].ranges[].type`; unknown types are kept so that matching can
/// warn about them instead of failing the whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
    Other(String),
}

impl RangeKind {
    pub fn as_str(&self) -> &str {
        match self {
            RangeKind::Semver => "SEMVER",
            RangeKind::Ecosystem => "ECOSYSTEM",
            RangeKind::Git => "GIT",
            RangeKind::Other(s) => s,
        }
    }
}

impl Serialize for RangeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RangeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "SEMVER" => RangeKind::Semver,
            "ECOSYSTEM" => RangeKind::Ecosystem,
            "GIT" => RangeKind::Git,
            _ => RangeKind::Other(s),
        })
    }
}

/// One entry of `events[]`. The schema allows exactly one key per event;
/// [`validate`] enforces it, [`Event::kind`] then names it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// The kind and version of a (validated) event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind<'a> {
    Introduced(&'a str),
    Fixed(&'a str),
    LastAffected(&'a str),
    Limit(&'a str),
}

impl<'a> EventKind<'a> {
    pub fn version(self) -> &'a str {
        match self {
            EventKind::Introduced(v)
            | EventKind::Fixed(v)
            | EventKind::LastAffected(v)
            | EventKind::Limit(v) => v,
        }
    }
}

impl Event {
    /// The event's kind, or `None` when it does not have exactly one key.
    pub fn kind(&self) -> Option<EventKind<'_>> {
        match (
            &self.introduced,
            &self.fixed,
            &self.last_affected,
            &self.limit,
        ) {
            (Some(v), None, None, None) => Some(EventKind::Introduced(v)),
            (None, Some(v), None, None) => Some(EventKind::Fixed(v)),
            (None, None, Some(v), None) => Some(EventKind::LastAffected(v)),
            (None, None, None, Some(v)) => Some(EventKind::Limit(v)),
            _ => None,
        }
    }
}

/// `references[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// The text encoding of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// The format a file name implies (`.json`, `.yaml`, `.yml`), if any.
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }
}

/// Why one record could not be read: the field path (`affected[0].ranges[1].type`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub field: String,
    pub message: String,
    /// The record's id, when it could be read.
    pub id: Option<String>,
}

/// Parses and validates one OSV record.
pub fn parse_record(bytes: &[u8], format: Format) -> Result<Record, RecordError> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(RecordError {
            field: "(document)".into(),
            message: format!(
                "record is {} bytes, more than the {MAX_RECORD_BYTES} byte limit",
                bytes.len()
            ),
            id: None,
        });
    }
    let parsed: Result<Record, (String, String)> = match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(&mut de)
                .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
                .and_then(|r| {
                    de.end()
                        .map(|()| r)
                        .map_err(|e| ("(document)".to_string(), e.to_string()))
                })
        }
        Format::Yaml if !yaml_nesting_ok(bytes) => Err((
            "(document)".to_string(),
            format!("flow collections nested deeper than {MAX_YAML_FLOW_DEPTH} levels"),
        )),
        Format::Yaml => {
            let de = serde_norway::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(de)
                .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
        }
    };
    let record = parsed.map_err(|(field, message)| RecordError {
        field: if field == "." {
            "(document)".into()
        } else {
            field
        },
        message,
        id: None,
    })?;
    validate(&record).map_err(|(field, message)| RecordError {
        field,
        message,
        id: Some(record.id.clone()),
    })?;
    Ok(record)
}

/// libyaml's parser is quadratic in the nesting depth of flow collections
/// (`[[[[…`): 40,000 levels take seconds. Records need a handful of levels,
/// so documents whose brackets open deeper than this are refused up front.
/// Brackets in text only count when unbalanced, which never reaches this.
pub(crate) const MAX_YAML_FLOW_DEPTH: usize = 1000;

pub(crate) fn yaml_nesting_ok(bytes: &[u8]) -> bool {
    let mut depth: usize = 0;
    for &b in bytes {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_YAML_FLOW_DEPTH {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Checks the schema rules serde cannot express. Returns the offending field.
pub fn validate(r: &Record) -> Result<(), (String, String)> {
    if r.id.is_empty() || r.id.len() > 256 || r.id.chars().any(|c| c.is_whitespace()) {
        return Err(("id".into(), format!("invalid id {:?}", r.id)));
    }
    check_time("modified", &r.modified)?;
    if let Some(t) = &r.published {
        check_time("published", t)?;
    }
    if let Some(t) = &r.withdrawn {
        check_time("withdrawn", t)?;
    }
    for (i, a) in r.affected.iter().enumerate() {
        if let Some(p) = &a.package {
            if p.ecosystem.trim().is_empty() {
                return Err((
                    format!("affected[{i}].package.ecosystem"),
                    "empty ecosystem".into(),
                ));
            }
            if p.name.trim().is_empty() {
                return Err((format!("affected[{i}].package.name"), "empty name".into()));
            }
        }
        for (j, range) in a.ranges.iter().enumerate() {
            let mut introduced = false;
            let mut fixed = false;
            let mut last = false;
            for (k, e) in range.events.iter().enumerate() {
                match e.kind() {
                    None => {
                        return Err((
                            format!("affected[{i}].ranges[{j}].events[{k}]"),
                            "an event must have exactly one of introduced, fixed, last_affected, limit".into(),
                        ));
                    }
                    Some(kind) => {
                        if kind.version().is_empty() {
                            return Err((
                                format!("affected[{i}].ranges[{j}].events[{k}]"),
                                "empty version".into(),
                            ));
                        }
                        match kind {
                            EventKind::Introduced(_) => introduced = true,
                            EventKind::Fixed(_) => fixed = true,
                            EventKind::LastAffected(_) => last = true,
                            EventKind::Limit(_) => {}
                        }
                    }
                }
            }
            if !introduced {
                return Err((
                    format!("affected[{i}].ranges[{j}].events"),
                    "a range needs at least one introduced event".into(),
                ));
            }
            if fixed && last {
                return Err((
                    format!("affected[{i}].ranges[{j}].events"),
                    "a range may have fixed or last_affected events, not both".into(),
                ));
            }
        }
    }
    Ok(())
}

fn check_time(field: &str, value: &str) -> Result<(), (String, String)> {
    match Timestamp::parse(value) {
        Some(_) => Ok(()),
        None => Err((
            field.into(),
            format!("{value:?} is not an RFC 3339 timestamp"),
        )),
    }
}

/// `modified` as an instant. Records are validated on parse, so this only
/// falls back to the epoch for records built by hand.
pub fn modified_of(r: &Record) -> Timestamp {
    Timestamp::parse(&r.modified).unwrap_or(Timestamp::EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id":"OSV-1","modified":"2024-01-01T00:00:00Z",
        "affected":[{"package":{"ecosystem":"PyPI","name":"x"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}"#;

    #[test]
    fn parses_json_and_names_events() {
        let r = parse_record(MINIMAL.as_bytes(), Format::Json).unwrap();
        assert_eq!(r.id, "OSV-1");
        let kinds: Vec<_> = r.affected[0].ranges[0]
            .events
            .iter()
            .map(|e| e.kind().unwrap())
            .collect();
        assert_eq!(kinds, [EventKind::Introduced("0"), EventKind::Fixed("1.0")]);
    }

    #[test]
    fn type_errors_name_the_field_path() {
        let bad = MINIMAL.replace(r#""type":"ECOSYSTEM""#, r#""type":7"#);
        let e = parse_record(bad.as_bytes(), Format::Json).unwrap_err();
        assert_eq!(e.field, "affected[0].ranges[0].type");
        let missing = r#"{"id":"X","affected":[]}"#;
        let e = parse_record(missing.as_bytes(), Format::Json).unwrap_err();
        assert!(e.message.contains("modified"), "{e:?}");
    }

    #[test]
    fn event_with_two_keys_is_rejected_with_its_path() {
        let bad = MINIMAL.replace(
            r#"{"fixed":"1.0"}"#,
            r#"{"fixed":"1.0","introduced":"0.5"}"#,
        );
        let e = parse_record(bad.as_bytes(), Format::Json).unwrap_err();
        assert_eq!(e.field, "affected[0].ranges[0].events[1]");
        assert_eq!(e.id.as_deref(), Some("OSV-1"));
    }

    #[test]
    fn range_without_introduced_and_bad_timestamp_are_rejected() {
        let bad = MINIMAL.replace(r#"{"introduced":"0"},"#, "");
        let e = parse_record(bad.as_bytes(), Format::Json).unwrap_err();
        assert_eq!(e.field, "affected[0].ranges[0].events");
        let bad = MINIMAL.replace("2024-01-01T00:00:00Z", "yesterday");
        let e = parse_record(bad.as_bytes(), Format::Json).unwrap_err();
        assert_eq!(e.field, "modified");
    }

    #[test]
    fn yaml_unquoted_versions_stay_strings() {
        let y = "id: PYSEC-1\nmodified: 2024-01-01T00:00:00Z\naffected:\n- package:\n    ecosystem: PyPI\n    name: x\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 1.10\n    - fixed: 2.0\n  versions:\n  - 1.10\n";
        let r = parse_record(y.as_bytes(), Format::Yaml).unwrap();
        assert_eq!(
            r.affected[0].ranges[0].events[0].introduced.as_deref(),
            Some("1.10")
        );
        assert_eq!(r.affected[0].versions, ["1.10"]);
    }

    #[test]
    fn yaml_alias_bombs_and_deep_nesting_are_rejected() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            bomb.push_str(&format!("{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = n;
        }
        bomb.push_str("id: X\nmodified: 2024-01-01T00:00:00Z\ndatabase_specific: *i\n");
        let t = std::time::Instant::now();
        assert!(parse_record(bomb.as_bytes(), Format::Yaml).is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        let deep = format!("{}1{}", "[".repeat(200_000), "]".repeat(200_000));
        let json =
            format!(r#"{{"id":"X","modified":"2024-01-01T00:00:00Z","database_specific":{deep}}}"#);
        assert!(parse_record(json.as_bytes(), Format::Json).is_err());
        let yaml = format!("id: X\nmodified: 2024-01-01T00:00:00Z\ndatabase_specific: {deep}\n");
        let t = std::time::Instant::now();
        let e = parse_record(yaml.as_bytes(), Format::Yaml).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        // Just under the guard, serde_norway's own recursion limit answers.
        let d = "[".repeat(999) + &"]".repeat(999);
        let yaml = format!("id: X\nmodified: 2024-01-01T00:00:00Z\ndatabase_specific: {d}\n");
        assert!(parse_record(yaml.as_bytes(), Format::Yaml).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            b"\xff\xfe",
            b"id: [",
            b"- - -",
        ] {
            assert!(parse_record(input, Format::Json).is_err());
            assert!(parse_record(input, Format::Yaml).is_err());
        }
    }
}
