//! The decision document, and the one function that turns a raw
//! `data.provenant` document (ours or OPA's) into it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::PolicyError;

/// The rules a policy package contributes to a decision.
pub(crate) const DECISION_RULES: [&str; 4] = ["deny", "warn", "exception", "mode"];

/// What a policy's denies do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Denies deny (the default).
    Enforce,
    /// Denies become warnings.
    Warn,
    /// Denies are reported under `dry_run` and have no effect.
    DryRun,
}

impl Mode {
    /// The mode's word: `enforce`, `warn` or `dry-run`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Warn => "warn",
            Self::DryRun => "dry-run",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enforce" => Ok(Self::Enforce),
            "warn" => Ok(Self::Warn),
            "dry-run" => Ok(Self::DryRun),
            _ => Err(PolicyError::ModeOverride {
                text: s.to_owned(),
                reason: "a mode is \"enforce\", \"warn\" or \"dry-run\"".into(),
            }),
        }
    }
}

/// Per-package mode overrides (`provenant.licences` → `warn`), as given by
/// `--policy-mode`.
pub type ModeOverrides = BTreeMap<String, Mode>;

/// Parses `--policy-mode PKG=MODE` arguments.
///
/// # Errors
/// [`PolicyError::ModeOverride`] for an argument without `=`, a package not
/// under `provenant.`, an unknown mode, or a package given twice.
pub fn parse_mode_overrides<S: AsRef<str>>(items: &[S]) -> Result<ModeOverrides, PolicyError> {
    let mut out = ModeOverrides::new();
    for item in items {
        let text = item.as_ref();
        let bad = |reason: &str| PolicyError::ModeOverride {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (package, mode) = text
            .split_once('=')
            .ok_or_else(|| bad("expected PACKAGE=MODE, e.g. provenant.licences=warn"))?;
        if !package.starts_with("provenant.") || package.len() == "provenant.".len() {
            return Err(bad(
                "the package must be a policy package (provenant.<name>)",
            ));
        }
        let mode = mode
            .parse::<Mode>()
            .map_err(|_| bad("a mode is \"enforce\", \"warn\" or \"dry-run\""))?;
        if out.insert(package.to_owned(), mode).is_some() {
            return Err(bad("this package's mode is given twice"));
        }
    }
    Ok(out)
}

/// A deny, warning or dry-run finding of one policy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reason {
    /// The policy package, e.g. `provenant.signed`.
    pub policy: String,
    /// The rule's message.
    pub message: String,
    /// The rule's id (from a `{"msg", "id"}` object), if any.
    pub id: Option<String>,
}

/// An exception that suppressed at least one deny.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppliedException {
    /// The policy package that granted it.
    pub policy: String,
    /// The deny id it suppresses.
    pub id: String,
    /// Why.
    pub justification: String,
    /// When it stops applying (RFC 3339, as written).
    pub expires: String,
}

/// `allow` or `deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No enforced deny.
    Allow,
    /// At least one enforced deny (or evaluation failed).
    Deny,
}

/// The decision document returned by `provenant policy eval`, `provenant
/// gate --json` and the server.
///
/// Lists are sorted by (policy, message, id) and free of duplicates;
/// `allowed` is true iff `deny` is empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// The same as a word.
    pub decision: Verdict,
    /// Denies of enforce-mode policies, not excepted.
    pub deny: Vec<Reason>,
    /// Warn rules, denies of warn-mode policies, and notes on void exceptions.
    pub warn: Vec<Reason>,
    /// Denies of dry-run policies (no effect).
    pub dry_run: Vec<Reason>,
    /// Exceptions that suppressed at least one deny.
    pub exceptions: Vec<AppliedException>,
    /// The policy set digest (`null` when no policy set is configured).
    pub policy_set: Option<String>,
    /// `sha256:` of the input's canonical JSON.
    pub input_digest: String,
}

/// The policy named by fail-closed denies that belong to no package.
pub const SET_POLICY: &str = "provenant";

impl Decision {
    /// A deny decision with one reason: what evaluation fails closed with
    /// (no policy configured, invalid input, timeout, runtime error).
    pub fn fail_closed(
        policy_set: Option<&str>,
        input_digest: &str,
        policy: &str,
        id: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            allowed: false,
            decision: Verdict::Deny,
            deny: vec![Reason {
                policy: policy.to_owned(),
                message: message.into(),
                id: Some(id.to_owned()),
            }],
            warn: Vec::new(),
            dry_run: Vec::new(),
            exceptions: Vec::new(),
            policy_set: policy_set.map(str::to_owned),
            input_digest: input_digest.to_owned(),
        }
    }

    /// Turns a raw `data.provenant` document into a decision.
    ///
    /// `raw` maps package paths below `provenant` to their rules, nested as
    /// the packages are (`{"signed": {"deny": [..], "warn": [..],
    /// "exception": [..], "mode": ".."}, "team": {"a": {...}}}`); other
    /// members (helper rules) are ignored, and `null` means no package. It
    /// may come from [`crate::PolicySet::raw`] or from `opa eval
    /// 'data.provenant'`: the same function decides both.
    ///
    /// Per package: the mode is the override, else its `mode` rule, else
    /// `enforce` (an invalid `mode` value is an enforced deny); a valid
    /// exception (non-empty justification, RFC 3339 `expires` after `now`)
    /// suppresses the package's denies with its `id`; a void one is a
    /// warning saying why; remaining denies go to `deny`, `warn` or
    /// `dry_run` by mode.
    pub fn from_raw(
        raw: &Value,
        policy_set: &str,
        input_digest: &str,
        overrides: &ModeOverrides,
        now: OffsetDateTime,
    ) -> Self {
        let mut deny = BTreeSet::new();
        let mut warn = BTreeSet::new();
        let mut dry_run = BTreeSet::new();
        let mut applied = BTreeSet::new();
        let mut packages = Vec::new();
        match raw {
            Value::Null => {}
            Value::Object(map) => collect_packages(map, SET_POLICY.to_owned(), &mut packages),
            other => {
                deny.insert(Reason {
                    policy: SET_POLICY.to_owned(),
                    message: format!(
                        "the policy result is not an object but {}",
                        json_kind(other)
                    ),
                    id: Some("malformed_result".into()),
                });
            }
        }
        for (policy, rules) in packages {
            let mode = match overrides.get(&policy) {
                Some(m) => *m,
                None => match rules.get("mode") {
                    None | Some(Value::Null) => Mode::Enforce,
                    Some(value) => match value.as_str().map(str::parse::<Mode>) {
                        Some(Ok(mode)) => mode,
                        _ => {
                            deny.insert(Reason {
                                message: format!(
                                    "mode must be \"enforce\", \"warn\" or \"dry-run\", not {value}"
                                ),
                                policy: policy.clone(),
                                id: Some("invalid_mode".into()),
                            });
                            Mode::Enforce
                        }
                    },
                },
            };
            let exceptions = valid_exceptions(&policy, rules.get("exception"), now, &mut warn);
            for item in items(rules.get("deny")) {
                let reason = reason(&policy, item);
                if let Some(e) = reason.id.as_deref().and_then(|id| exceptions.get(id)) {
                    applied.insert(e.clone());
                    continue;
                }
                match mode {
                    Mode::Enforce => deny.insert(reason),
                    Mode::Warn => warn.insert(reason),
                    Mode::DryRun => dry_run.insert(reason),
                };
            }
            for item in items(rules.get("warn")) {
                warn.insert(reason(&policy, item));
            }
        }
        let allowed = deny.is_empty();
        Self {
            allowed,
            decision: if allowed {
                Verdict::Allow
            } else {
                Verdict::Deny
            },
            deny: deny.into_iter().collect(),
            warn: warn.into_iter().collect(),
            dry_run: dry_run.into_iter().collect(),
            exceptions: applied.into_iter().collect(),
            policy_set: Some(policy_set.to_owned()),
            input_digest: input_digest.to_owned(),
        }
    }
}

/// Whether `value` is what a decision rule named `name` evaluates to (a set
/// as an array, or a mode string); anything else under that name is a
/// nested package or a helper.
fn is_rule_value(name: &str, value: &Value) -> bool {
    match name {
        "deny" | "warn" | "exception" => value.is_array(),
        "mode" => !value.is_object(),
        _ => false,
    }
}

/// The packages of a raw document, depth first in key order, each with its
/// decision rules.
fn collect_packages<'a>(
    map: &'a Map<String, Value>,
    name: String,
    out: &mut Vec<(String, BTreeMap<&'a str, &'a Value>)>,
) {
    let rules: BTreeMap<&str, &Value> = map
        .iter()
        .filter(|(k, v)| is_rule_value(k, v))
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    if !rules.is_empty() {
        out.push((name.clone(), rules));
    }
    for (key, value) in map {
        if let Value::Object(child) = value {
            collect_packages(child, format!("{name}.{key}"), out);
        }
    }
}

/// Restricts a raw `data.provenant` document to the decision rules of each
/// package (`deny`, `warn`, `exception`, `mode`), drops packages without
/// any, and sorts each set by its canonical JSON: the form in which ours and
/// OPA's are compared.
pub fn normalize_raw(raw: &Value) -> Value {
    fn walk(map: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in map {
            if is_rule_value(key, value) {
                let value = match value {
                    Value::Array(items) => {
                        let mut sorted: Vec<(String, Value)> = items
                            .iter()
                            .map(|v| {
                                (
                                    provenant_tlog::canonicalize(v).unwrap_or_default(),
                                    v.clone(),
                                )
                            })
                            .collect();
                        sorted.sort_by(|a, b| a.0.cmp(&b.0));
                        sorted.dedup_by(|a, b| a.0 == b.0);
                        Value::Array(sorted.into_iter().map(|(_, v)| v).collect())
                    }
                    other => other.clone(),
                };
                out.insert(key.clone(), value);
            } else if let Value::Object(child) = value {
                let child = walk(child);
                if !child.is_empty() {
                    out.insert(key.clone(), Value::Object(child));
                }
            }
        }
        out
    }
    match raw {
        Value::Object(map) => Value::Object(walk(map)),
        _ => Value::Object(Map::new()),
    }
}

fn items<'a>(value: Option<&&'a Value>) -> &'a [Value] {
    match value {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// A deny or warn message: a string, or `{"msg": string, "id": string?,
/// "details": any?}`. Anything else still counts, shown as its JSON.
fn reason(policy: &str, item: &Value) -> Reason {
    let (message, id) = match item {
        Value::String(s) => (s.clone(), None),
        Value::Object(o) => match o.get("msg") {
            Some(Value::String(msg)) => (
                msg.clone(),
                o.get("id").and_then(Value::as_str).map(str::to_owned),
            ),
            _ => (
                format!("malformed message (no \"msg\" string): {item}"),
                None,
            ),
        },
        other => (format!("malformed message: {other}"), None),
    };
    Reason {
        policy: policy.to_owned(),
        message,
        id,
    }
}

/// The package's valid exceptions by id; a note in `warn` for each void one.
fn valid_exceptions(
    policy: &str,
    value: Option<&&Value>,
    now: OffsetDateTime,
    warn: &mut BTreeSet<Reason>,
) -> BTreeMap<String, AppliedException> {
    let mut valid = BTreeMap::new();
    for item in items(value) {
        let mut void = |message: String| {
            warn.insert(Reason {
                policy: policy.to_owned(),
                message,
                id: None,
            });
        };
        let Some(o) = item.as_object() else {
            void(format!("exception in {policy} is not an object: {item}"));
            continue;
        };
        let Some(id) = o
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            void(format!(
                "exception in {policy} has no id, so it applies to nothing: {item}"
            ));
            continue;
        };
        let justification = o
            .get("justification")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if justification.is_empty() {
            void(format!(
                "exception {id} in {policy} has no justification, so it is void"
            ));
            continue;
        }
        let Some(expires) = o.get("expires").and_then(Value::as_str) else {
            void(format!(
                "exception {id} in {policy} has no expires timestamp (RFC 3339), so it is void"
            ));
            continue;
        };
        let at = match OffsetDateTime::parse(expires, &Rfc3339) {
            Ok(at) => at,
            Err(e) => {
                void(format!(
                    "exception {id} in {policy} has an invalid expires {expires:?} ({e}), so it is void"
                ));
                continue;
            }
        };
        if at <= now {
            void(format!("exception {id} in {policy} expired at {expires}"));
            continue;
        }
        valid.insert(
            id.to_owned(),
            AppliedException {
                policy: policy.to_owned(),
                id: id.to_owned(),
                justification: o
                    .get("justification")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                expires: expires.to_owned(),
            },
        );
    }
    valid
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
