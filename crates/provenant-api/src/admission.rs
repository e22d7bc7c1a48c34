//! Kubernetes admission reviews (`admission.k8s.io/v1`), as kube-apiserver
//! sends them to a validating webhook and expects them back:
//! <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request>
//! and the API reference
//! <https://kubernetes.io/docs/reference/config-api/apiserver-admission.v1/>.
//!
//! Pure: no HTTP. The server's `POST /admission` route
//! 1. reads the body (the caller bounds its size) and calls [`parse_review`].
//!    When that fails, [`InvalidReview::deny_response`] gives a deny review
//!    (HTTP 200) if the request's `uid` could be read; when even the `uid`
//!    cannot be read there is no review to answer, and the server answers
//!    HTTP 400: kube-apiserver counts that as a failed call, and with the
//!    webhook's `failurePolicy: Fail` the object is refused. Never an allow.
//! 2. calls [`workload`] to find what the object runs: the models named by
//!    the [`MODEL_ANNOTATION`] annotation ([`ModelAnnotation`]) and the
//!    container images ([`ContainerImage`]) of Pods and of the kinds that
//!    embed a pod template ([`WorkloadKind`]). A DELETE (or CONNECT) has
//!    nothing to check ([`Admission::NothingToCheck`]); an unknown kind or a
//!    malformed object is an [`AdmissionError`] the server denies with.
//! 3. answers with [`review_response`] (or [`allow`] / [`deny`]), which
//!    echoes `request.uid`.
//!
//! Work is bounded: JSON nesting is limited by `serde_json` (128 levels, an
//! error past that), nothing here recurses, and the model references of one
//! annotation are capped at [`MAX_MODEL_REFERENCES`].

use std::collections::BTreeMap;
use std::fmt;

use provenant_digest::Digest;
use serde_json::{Map, Value};

/// `apiVersion` of the reviews this module reads and writes.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// `kind` of the reviews this module reads and writes.
pub const REVIEW_KIND: &str = "AdmissionReview";
/// The annotation naming the models a workload runs: one or more
/// `ns/name@sha256:<64 hex>` separated by commas and/or white space.
pub const MODEL_ANNOTATION: &str = "provenant.dev/model";
/// Most model references one annotation may hold.
pub const MAX_MODEL_REFERENCES: usize = 64;
/// Kubernetes shows warnings of up to 120 characters whole ("Limit warnings
/// to 120 characters if possible"); longer ones are cut here, on a character
/// boundary, ending in `…`.
pub const MAX_WARNING_CHARS: usize = 120;
/// Warnings one response carries; further ones are summed up in a last one
/// ("… and N more warnings"): kube-apiserver may drop large numbers of them.
pub const MAX_WARNINGS: usize = 16;
/// Characters of a deny message kept (the rest cut, ending in `…`).
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Characters of an annotation entry quoted back in a [`ModelAnnotation`]
/// that is malformed.
const MAX_QUOTED_CHARS: usize = 200;

// ---------------------------------------------------------------------------
// Errors

/// Why an admission review, or the object it carries, cannot be checked.
/// Every variant names where in the review (a JSON path from the review's
/// root, e.g. `request.object.spec.template.spec`) the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The body is not JSON (or nests deeper than 128 levels).
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// A required field is absent or `null`.
    MissingField { path: String },
    /// A field holds the wrong JSON type.
    WrongType {
        path: String,
        expected: &'static str,
    },
    /// A field holds a value this webhook does not take (an `apiVersion`
    /// other than `admission.k8s.io/v1`, an unknown operation, an object
    /// whose `kind` differs from `request.kind`, an empty name).
    WrongValue {
        path: String,
        expected: String,
        found: String,
    },
    /// The object is of a kind that embeds no pod template this webhook
    /// knows (e.g. a Service): the webhook's rules should not send it.
    UnsupportedKind {
        group: String,
        version: String,
        kind: String,
    },
    /// A list is longer than this webhook takes (model references of one
    /// annotation).
    TooMany {
        path: String,
        count: usize,
        max: usize,
    },
}

impl AdmissionError {
    /// The JSON path the error is about, when it is about one field.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::MissingField { path }
            | Self::WrongType { path, .. }
            | Self::WrongValue { path, .. }
            | Self::TooMany { path, .. } => Some(path),
            Self::Json { .. } | Self::UnsupportedKind { .. } => None,
        }
    }
}

impl fmt::Display for AdmissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json {
                line,
                column,
                message,
            } => write!(
                f,
                "the AdmissionReview is not valid JSON (line {line}, column {column}): {message}"
            ),
            Self::MissingField { path } => write!(f, "{path}: required field is missing"),
            Self::WrongType { path, expected } => write!(f, "{path}: expected {expected}"),
            Self::WrongValue {
                path,
                expected,
                found,
            } => write!(f, "{path}: expected {expected}, found {found:?}"),
            Self::UnsupportedKind {
                group,
                version,
                kind,
            } => {
                let gv = if group.is_empty() {
                    version.clone()
                } else {
                    format!("{group}/{version}")
                };
                write!(
                    f,
                    "kind {kind} ({gv}) is not checked by this webhook: it takes Pods and the \
                     kinds with a pod template (apps/v1 Deployment, StatefulSet, DaemonSet, \
                     ReplicaSet; batch/v1 Job, CronJob; v1 ReplicationController)"
                )
            }
            Self::TooMany { path, count, max } => {
                write!(f, "{path}: {count} entries, at most {max} are taken")
            }
        }
    }
}

impl std::error::Error for AdmissionError {}

/// A review [`parse_review`] refused, with its `uid` when that much could be
/// read (so the refusal can still be answered as a review).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidReview {
    /// `request.uid`, when it is a non-empty string.
    pub uid: Option<String>,
    /// What is wrong.
    pub error: AdmissionError,
}

impl InvalidReview {
    /// A deny review (to send with HTTP 200) naming the error, with
    /// `status.code` 400, when the `uid` was read. `None` when it was not:
    /// there is nothing to echo, so the server answers HTTP 400 instead,
    /// which kube-apiserver treats as a failed call (refused under
    /// `failurePolicy: Fail`).
    pub fn deny_response(&self) -> Option<AdmissionReviewResponse> {
        self.uid
            .as_deref()
            .map(|uid| bad_request_response(uid, &self.error))
    }
}

impl fmt::Display for InvalidReview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for InvalidReview {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

// ---------------------------------------------------------------------------
// The request

/// `meta/v1.GroupVersionKind`: `{"group": "apps", "version": "v1", "kind": "Deployment"}`
/// (the core group is `""`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// `meta/v1.GroupVersionResource`: `{"group": "apps", "version": "v1", "resource": "deployments"}`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct GroupVersionResource {
    pub group: String,
    pub version: String,
    pub resource: String,
}

/// The operation under review.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    /// The word on the wire: `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "CREATE" => Some(Self::Create),
            "UPDATE" => Some(Self::Update),
            "DELETE" => Some(Self::Delete),
            "CONNECT" => Some(Self::Connect),
            _ => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `authentication/v1.UserInfo`: who made the request to kube-apiserver.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UserInfo {
    /// `""` when the authenticator gives none.
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The `request` of an `admission.k8s.io/v1` AdmissionReview, checked by
/// [`parse_review`]: `uid` non-empty, `kind`, `resource`, `operation` and
/// `userInfo` present, `object` present unless the operation is DELETE.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Identifies this round trip; the response must echo it.
    pub uid: String,
    /// Type of the object (after conversion for `matchPolicy: Equivalent`).
    pub kind: GroupVersionKind,
    pub resource: GroupVersionResource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// Type of the object as the client sent it, when it was converted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    /// Name of the object; absent on a CREATE that leaves it to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub operation: Operation,
    pub user_info: UserInfo,
    /// The object as it will be stored (CREATE, UPDATE); `None` on DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub object: Option<Value>,
    /// The object as it is (UPDATE, DELETE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub old_object: Option<Value>,
    /// The change will not be persisted (`kubectl --dry-run=server`).
    #[serde(default)]
    pub dry_run: bool,
}

/// Read an `admission.k8s.io/v1` AdmissionReview. Refused, with the JSON
/// path of the fault: a body that is not JSON; an `apiVersion` or `kind`
/// other than `admission.k8s.io/v1` / `AdmissionReview`; no `request`; a
/// missing or empty `request.uid`; a missing `kind`, `resource`,
/// `operation` or `userInfo`; an unknown operation; no `request.object`
/// for an operation other than DELETE. The caller bounds the body's size.
pub fn parse_review(bytes: &[u8]) -> Result<AdmissionRequest, InvalidReview> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| InvalidReview {
        uid: None,
        error: AdmissionError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        },
    })?;
    let Value::Object(mut root) = root else {
        return Err(InvalidReview {
            uid: None,
            error: wrong_type("(root)", "an AdmissionReview object"),
        });
    };
    // The uid first, so that every later fault can be answered as a review.
    let uid = root
        .get("request")
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let fail = |error| InvalidReview {
        uid: uid.clone(),
        error,
    };
    expect_literal(&root, "apiVersion", API_VERSION).map_err(fail)?;
    expect_literal(&root, "kind", REVIEW_KIND).map_err(fail)?;
    let request = match root.remove("request") {
        None | Some(Value::Null) => return Err(fail(missing("request"))),
        Some(Value::Object(request)) => request,
        Some(_) => return Err(fail(wrong_type("request", "an object"))),
    };
    request_from(request).map_err(fail)
}

fn request_from(mut r: Map<String, Value>) -> Result<AdmissionRequest, AdmissionError> {
    let uid = req_str(&r, "uid", "request")?;
    if uid.is_empty() {
        return Err(wrong_value("request.uid", "a non-empty string", ""));
    }
    let uid = uid.to_owned();
    let kind = gvk(req_object(&r, "kind", "request")?, "request.kind")?;
    let resource = {
        let path = "request.resource";
        let m = req_object(&r, "resource", "request")?;
        GroupVersionResource {
            group: opt_str(m, "group", path)?.unwrap_or_default().to_owned(),
            version: req_str(m, "version", path)?.to_owned(),
            resource: req_str(m, "resource", path)?.to_owned(),
        }
    };
    let sub_resource = opt_str(&r, "subResource", "request")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let request_kind = match opt_object(&r, "requestKind", "request")? {
        Some(m) => Some(gvk(m, "request.requestKind")?),
        None => None,
    };
    let name = opt_str(&r, "name", "request")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let namespace = opt_str(&r, "namespace", "request")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let operation = {
        let op = req_str(&r, "operation", "request")?;
        Operation::parse(op).ok_or_else(|| {
            wrong_value("request.operation", "CREATE, UPDATE, DELETE or CONNECT", op)
        })?
    };
    let user_info = {
        let path = "request.userInfo";
        let m = req_object(&r, "userInfo", "request")?;
        let groups = match field(m, "groups") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    g.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| wrong_type(&format!("{path}.groups[{i}]"), "a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(wrong_type(&format!("{path}.groups"), "an array of strings")),
        };
        let extra = match field(m, "extra") {
            None => BTreeMap::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| wrong_type(&format!("{path}.extra"), "an object of string arrays"))?,
        };
        UserInfo {
            username: opt_str(m, "username", path)?.unwrap_or_default().to_owned(),
            uid: opt_str(m, "uid", path)?.map(str::to_owned),
            groups,
            extra,
        }
    };
    let dry_run = match field(&r, "dryRun") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong_type("request.dryRun", "a boolean")),
    };
    let object = take_object(&mut r, "object")?;
    let old_object = take_object(&mut r, "oldObject")?;
    if object.is_none() && operation != Operation::Delete {
        return Err(missing("request.object"));
    }
    Ok(AdmissionRequest {
        uid,
        kind,
        resource,
        sub_resource,
        request_kind,
        name,
        namespace,
        operation,
        user_info,
        object,
        old_object,
        dry_run,
    })
}

fn gvk(m: &Map<String, Value>, path: &str) -> Result<GroupVersionKind, AdmissionError> {
    Ok(GroupVersionKind {
        group: opt_str(m, "group", path)?.unwrap_or_default().to_owned(),
        version: req_str(m, "version", path)?.to_owned(),
        kind: req_str(m, "kind", path)?.to_owned(),
    })
}

/// `request.object` / `request.oldObject`: an object, or absent/null.
fn take_object(r: &mut Map<String, Value>, key: &str) -> Result<Option<Value>, AdmissionError> {
    match r.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(wrong_type(&format!("request.{key}"), "an object")),
    }
}

// ---------------------------------------------------------------------------
// Workloads

/// The kinds this webhook checks: Pods and the kinds that embed a pod template.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum WorkloadKind {
    /// `v1 Pod`: its own spec.
    Pod,
    /// `apps/v1 Deployment`: `spec.template`.
    Deployment,
    /// `apps/v1 StatefulSet`: `spec.template`.
    StatefulSet,
    /// `apps/v1 DaemonSet`: `spec.template`.
    DaemonSet,
    /// `apps/v1 ReplicaSet`: `spec.template`.
    ReplicaSet,
    /// `v1 ReplicationController`: `spec.template`.
    ReplicationController,
    /// `batch/v1 Job`: `spec.template`.
    Job,
    /// `batch/v1 CronJob`: `spec.jobTemplate.spec.template`.
    CronJob,
}

impl WorkloadKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [WorkloadKind] = &[
        Self::Pod,
        Self::Deployment,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::ReplicaSet,
        Self::ReplicationController,
        Self::Job,
        Self::CronJob,
    ];

    /// The `kind` word (`Deployment`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Self::Pod | Self::ReplicationController => "",
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => "apps",
            Self::Job | Self::CronJob => "batch",
        }
    }

    /// The kind of a `request.kind`: the group and kind must match and the
    /// version be `v1` (with `matchPolicy: Equivalent` kube-apiserver
    /// converts older versions to it).
    pub fn from_gvk(gvk: &GroupVersionKind) -> Option<Self> {
        if gvk.version != "v1" {
            return None;
        }
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.group() == gvk.group && k.as_str() == gvk.kind)
    }

    /// Field names from the object to its pod template (empty for a Pod).
    fn template_path(self) -> &'static [&'static str] {
        match self {
            Self::Pod => &[],
            Self::CronJob => &["spec", "jobTemplate", "spec", "template"],
            _ => &["spec", "template"],
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model named by a workload, pinned by its digest:
/// `team-a/fraud-detector@sha256:…`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ModelRef {
    /// The namespace (one or more `/`-separated segments).
    pub namespace: String,
    /// The model's name within the namespace.
    pub model: String,
    pub digest: Digest,
}

impl ModelRef {
    /// `ns/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.model)
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.namespace, self.model, self.digest)
    }
}

/// How a model reference that is not pinned by a whole digest selects a
/// version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum MutableSelector {
    /// `ns/name:3` or `ns/name@3`.
    Number(i64),
    /// `ns/name#production`, `ns/name:production` or `ns/name@production`.
    Alias(String),
    /// `ns/name@sha256:<12 to 63 hex>`: a digest prefix, as `list` prints it.
    DigestPrefix(String),
    /// `ns/name`: whatever version is latest.
    Latest,
}

/// One entry of a [`MODEL_ANNOTATION`] annotation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "form")]
pub enum ModelAnnotation {
    /// `ns/name@sha256:<64 hex>`.
    Pinned(ModelRef),
    /// A valid model name with a selector that can move or is partial (an
    /// alias, a version number, latest, a digest prefix): the
    /// deploy-by-digest policy refuses it, or the server resolves it to a
    /// digest where the policy says so.
    Mutable {
        /// The entry as written.
        text: String,
        namespace: String,
        model: String,
        selector: MutableSelector,
    },
    /// Not a model reference; the server denies naming `text` and `reason`.
    Malformed {
        /// The entry as written (cut to 200 characters, ending in `…`).
        text: String,
        reason: String,
    },
}

impl ModelAnnotation {
    /// Classify one entry of the annotation (already split off its
    /// separators). Model names follow the registry's rules: a namespace of
    /// one or more `/`-separated segments and a name, each segment 1 to 128
    /// characters of lowercase `a-z`, `0-9`, `.`, `_`, `-` starting with a
    /// letter or digit, 512 characters in all.
    pub fn parse(text: &str) -> Self {
        let malformed = |reason: String| Self::Malformed {
            text: quoted(text),
            reason,
        };
        let (name, selector) = if let Some((name, rest)) = text.split_once('@') {
            let selector = if rest.contains(':') {
                match rest.parse::<Digest>() {
                    Ok(digest) => {
                        return match model_name(name) {
                            Ok((namespace, model)) => Self::Pinned(ModelRef {
                                namespace,
                                model,
                                digest,
                            }),
                            Err(reason) => malformed(reason),
                        };
                    }
                    Err(e) => match digest_prefix(rest) {
                        Some(prefix) => MutableSelector::DigestPrefix(prefix),
                        None => return malformed(format!("digest: {}", e.reason)),
                    },
                }
            } else {
                match number_or_alias(rest) {
                    Ok(s) => s,
                    Err(reason) => return malformed(reason),
                }
            };
            (name, selector)
        } else if let Some((name, alias)) = text.split_once('#') {
            if let Err(reason) = check_segment(alias) {
                return malformed(format!("alias: {reason}"));
            }
            if alias.bytes().all(|b| b.is_ascii_digit()) {
                return malformed("an alias cannot be all digits".into());
            }
            (name, MutableSelector::Alias(alias.to_owned()))
        } else if let Some((name, tag)) = text.split_once(':') {
            match number_or_alias(tag) {
                Ok(s) => (name, s),
                Err(reason) => return malformed(reason),
            }
        } else {
            (text, MutableSelector::Latest)
        };
        match model_name(name) {
            Ok((namespace, model)) => Self::Mutable {
                text: text.to_owned(),
                namespace,
                model,
                selector,
            },
            Err(reason) => malformed(reason),
        }
    }

    /// The entry as written (for a pinned one, its canonical form).
    pub fn text(&self) -> String {
        match self {
            Self::Pinned(r) => r.to_string(),
            Self::Mutable { text, .. } | Self::Malformed { text, .. } => text.clone(),
        }
    }
}

/// The reference (pinned: canonical; mutable: as written), or for a
/// malformed entry `"<text>" (<reason>)`, as a deny message quotes it.
impl fmt::Display for ModelAnnotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pinned(r) => r.fmt(f),
            Self::Mutable { text, .. } => f.write_str(text),
            Self::Malformed { text, reason } => write!(f, "{text:?} ({reason})"),
        }
    }
}

/// Split an annotation's value on commas and white space and classify each
/// entry. A value with no entry at all (empty, or only separators) gives
/// one [`ModelAnnotation::Malformed`] entry saying so: an annotation that
/// names nothing is a mistake to report, not a workload without models.
pub fn parse_model_annotation(value: &str) -> Vec<ModelAnnotation> {
    let mut out: Vec<ModelAnnotation> = Vec::new();
    for entry in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        let parsed = ModelAnnotation::parse(entry);
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    if out.is_empty() {
        out.push(ModelAnnotation::Malformed {
            text: quoted(value),
            reason: format!("the {MODEL_ANNOTATION} annotation names no model"),
        });
    }
    out
}

fn number_or_alias(s: &str) -> Result<MutableSelector, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(MutableSelector::Number(n)),
            Ok(_) => Err("version numbers start at 1".into()),
            Err(_) => Err("version number out of range".into()),
        };
    }
    check_segment(s).map_err(|reason| format!("alias: {reason}"))?;
    Ok(MutableSelector::Alias(s.to_owned()))
}

/// `sha256:` and 12 to 63 hex digits (any case, lowered), as the registry
/// takes for a digest prefix.
fn digest_prefix(s: &str) -> Option<String> {
    let hex = s.strip_prefix("sha256:")?;
    (hex.len() >= 12 && hex.len() < 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// `namespace/name` split at its last `/`, every segment checked.
fn model_name(full: &str) -> Result<(String, String), String> {
    if full.len() > 512 {
        return Err("model name longer than 512 characters".into());
    }
    let (namespace, name) = full
        .rsplit_once('/')
        .ok_or_else(|| "expected namespace/name before the version".to_owned())?;
    for seg in namespace.split('/').chain([name]) {
        check_segment(seg).map_err(|reason| format!("model name: {reason}"))?;
    }
    Ok((namespace.to_owned(), name.to_owned()))
}

/// One name segment, by the registry's rule.
fn check_segment(seg: &str) -> Result<(), String> {
    let Some(first) = seg.bytes().next() else {
        return Err("empty segment".into());
    };
    if seg.len() > 128 {
        return Err("segment longer than 128 characters".into());
    }
    if !matches!(first, b'a'..=b'z' | b'0'..=b'9') {
        return Err(format!(
            "segment {:?} must start with a lowercase letter or digit",
            quoted(seg)
        ));
    }
    if let Some(c) = seg
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        return Err(format!(
            "character {c:?} not allowed (use lowercase a-z, 0-9, '.', '_', '-')"
        ));
    }
    Ok(())
}

/// Which list of the pod spec a container is in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ContainerList {
    /// `containers`.
    Containers,
    /// `initContainers`.
    InitContainers,
    /// `ephemeralContainers`.
    EphemeralContainers,
}

impl ContainerList {
    /// The field name in the pod spec.
    pub fn field(self) -> &'static str {
        match self {
            Self::Containers => "containers",
            Self::InitContainers => "initContainers",
            Self::EphemeralContainers => "ephemeralContainers",
        }
    }
}

/// One container's image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ContainerImage {
    /// The container's name.
    pub container: String,
    /// Which list it is in.
    pub list: ContainerList,
    /// The image reference as written (`registry.example/app@sha256:…`).
    pub image: String,
    /// The digest after `@`, when the reference has a valid one.
    #[schema(value_type = Option<String>)]
    pub digest: Option<Digest>,
    /// Why the part after `@` is not a digest; `None` when there is no `@`
    /// (a tag: `digest` is `None` too) or the digest is valid.
    pub digest_error: Option<String>,
}

impl ContainerImage {
    fn new(container: String, list: ContainerList, image: String) -> Self {
        let (digest, digest_error) = match image.split_once('@') {
            None => (None, None),
            Some((_, d)) => match d.parse::<Digest>() {
                Ok(d) => (Some(d), None),
                Err(e) => (
                    None,
                    Some(format!("the part after '@' is not a digest ({})", e.reason)),
                ),
            },
        };
        Self {
            container,
            list,
            image,
            digest,
            digest_error,
        }
    }
}

/// What a Pod or pod-template workload runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// `metadata.name`, else `metadata.generateName`, else `request.name`.
    pub name: String,
    /// `request.namespace`, else the object's `metadata.namespace`.
    pub namespace: String,
    /// The entries of the [`MODEL_ANNOTATION`] annotation on the object's
    /// own metadata, then (CronJob) the job template's, then the pod
    /// template's: de-duplicated, in that order. Empty when no metadata
    /// carries the annotation.
    pub models: Vec<ModelAnnotation>,
    /// The images of `containers`, then `initContainers`, then
    /// `ephemeralContainers`, each in its order.
    pub images: Vec<ContainerImage>,
}

impl Workload {
    /// Entries of the annotation that are not model references.
    pub fn malformed_models(&self) -> impl Iterator<Item = &ModelAnnotation> {
        self.models
            .iter()
            .filter(|m| matches!(m, ModelAnnotation::Malformed { .. }))
    }

    /// Images not pinned by a valid digest.
    pub fn unpinned_images(&self) -> impl Iterator<Item = &ContainerImage> {
        self.images.iter().filter(|i| i.digest.is_none())
    }
}

/// What a review asks to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Nothing runs because of this request (a DELETE, whose `object` is
    /// null, or a CONNECT): the server allows it.
    NothingToCheck { operation: Operation },
    /// A Pod or a workload with a pod template to check.
    Workload(Workload),
}

/// What the reviewed object runs, for a CREATE or UPDATE of a Pod or of a
/// kind with a pod template ([`WorkloadKind`]). Errors, with the JSON path:
/// an unsupported kind ([`AdmissionError::UnsupportedKind`]); an object
/// whose `kind` is not `request.kind`'s; no `metadata`, no name, no
/// namespace; no pod template or pod spec where the kind has one
/// (`request.object.spec.template.spec`); a pod spec with no container; a
/// container without a name or an image; a model annotation that is not a
/// string or holds more than [`MAX_MODEL_REFERENCES`] entries.
pub fn workload(request: &AdmissionRequest) -> Result<Admission, AdmissionError> {
    let object = match request.operation {
        Operation::Delete | Operation::Connect => {
            return Ok(Admission::NothingToCheck {
                operation: request.operation,
            });
        }
        Operation::Create | Operation::Update => request
            .object
            .as_ref()
            .ok_or_else(|| missing("request.object"))?,
    };
    workload_of(request, object, "request.object").map(Admission::Workload)
}

/// What `request.oldObject` ran, for an UPDATE (so the server may, say,
/// let through a change that alters neither models nor images); `None`
/// when the request carries no old object. Errors as [`workload`]'s.
pub fn old_workload(request: &AdmissionRequest) -> Result<Option<Workload>, AdmissionError> {
    request
        .old_object
        .as_ref()
        .map(|old| workload_of(request, old, "request.oldObject"))
        .transpose()
}

fn workload_of(
    request: &AdmissionRequest,
    object: &Value,
    root: &str,
) -> Result<Workload, AdmissionError> {
    let gvk = &request.kind;
    let kind = WorkloadKind::from_gvk(gvk).ok_or_else(|| AdmissionError::UnsupportedKind {
        group: gvk.group.clone(),
        version: gvk.version.clone(),
        kind: gvk.kind.clone(),
    })?;
    let object = object
        .as_object()
        .ok_or_else(|| wrong_type(root, "an object"))?;
    if let Some(found) = opt_str(object, "kind", root)?
        && found != kind.as_str()
    {
        return Err(wrong_value(
            &format!("{root}.kind"),
            &format!("{kind} (as request.kind says)"),
            found,
        ));
    }
    let meta_path = format!("{root}.metadata");
    let metadata = req_object(object, "metadata", root)?;
    let name = opt_str(metadata, "name", &meta_path)?
        .filter(|s| !s.is_empty())
        .or(opt_str(metadata, "generateName", &meta_path)?.filter(|s| !s.is_empty()))
        .or(request.name.as_deref())
        .ok_or_else(|| missing(&format!("{meta_path}.name")))?
        .to_owned();
    let object_ns = opt_str(metadata, "namespace", &meta_path)?.filter(|s| !s.is_empty());
    let namespace = match (request.namespace.as_deref(), object_ns) {
        (Some(r), Some(o)) if r != o => {
            return Err(wrong_value(
                &format!("{meta_path}.namespace"),
                &format!("{r} (as request.namespace says)"),
                o,
            ));
        }
        (Some(ns), _) | (None, Some(ns)) => ns.to_owned(),
        (None, None) => return Err(missing("request.namespace")),
    };

    let mut models = Vec::new();
    add_models(&mut models, metadata, &meta_path)?;

    // Walk down to the pod template, taking the job template's metadata
    // (CronJob) on the way.
    let mut node = object;
    let mut path = root.to_owned();
    for step in kind.template_path() {
        node = req_object(node, step, &path)?;
        path = format!("{path}.{step}");
        if matches!(*step, "jobTemplate" | "template")
            && let Some(meta) = opt_object(node, "metadata", &path)?
        {
            add_models(&mut models, meta, &format!("{path}.metadata"))?;
        }
    }
    let spec = req_object(node, "spec", &path)?;
    let spec_path = format!("{path}.spec");
    let mut images = Vec::new();
    for list in [
        ContainerList::Containers,
        ContainerList::InitContainers,
        ContainerList::EphemeralContainers,
    ] {
        let list_path = format!("{spec_path}.{}", list.field());
        let items = match field(spec, list.field()) {
            None => &[][..],
            Some(Value::Array(items)) => items.as_slice(),
            Some(_) => return Err(wrong_type(&list_path, "an array of containers")),
        };
        if list == ContainerList::Containers && items.is_empty() {
            return Err(wrong_value(&list_path, "at least one container", "[]"));
        }
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{list_path}[{i}]");
            let c = item
                .as_object()
                .ok_or_else(|| wrong_type(&item_path, "a container object"))?;
            let container = req_str(c, "name", &item_path)?.to_owned();
            let image = req_str(c, "image", &item_path)?;
            if image.is_empty() {
                return Err(wrong_value(
                    &format!("{item_path}.image"),
                    "an image reference",
                    "",
                ));
            }
            images.push(ContainerImage::new(container, list, image.to_owned()));
        }
    }
    Ok(Workload {
        kind,
        name,
        namespace,
        models,
        images,
    })
}

/// Append the entries of `metadata.annotations[MODEL_ANNOTATION]` not yet in `models`.
fn add_models(
    models: &mut Vec<ModelAnnotation>,
    metadata: &Map<String, Value>,
    meta_path: &str,
) -> Result<(), AdmissionError> {
    let Some(annotations) = opt_object(metadata, "annotations", meta_path)? else {
        return Ok(());
    };
    let path = format!("{meta_path}.annotations[\"{MODEL_ANNOTATION}\"]");
    let value = match annotations.get(MODEL_ANNOTATION) {
        None => return Ok(()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(wrong_type(&path, "a string")),
    };
    let count = value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .count();
    if count > MAX_MODEL_REFERENCES {
        return Err(AdmissionError::TooMany {
            path,
            count,
            max: MAX_MODEL_REFERENCES,
        });
    }
    for entry in parse_model_annotation(value) {
        if !models.contains(&entry) {
            models.push(entry);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The response

/// An `admission.k8s.io/v1` AdmissionReview carrying a response.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReviewResponse {
    /// Always `admission.k8s.io/v1`.
    pub api_version: String,
    /// Always `AdmissionReview`.
    pub kind: String,
    pub response: AdmissionResponse,
}

/// The `response` of an AdmissionReview.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AdmissionResponse {
    /// `request.uid`, echoed.
    pub uid: String,
    pub allowed: bool,
    /// Set when denied: kube-apiserver returns it to the client, prefixed
    /// with `admission webhook "<name>" denied the request: `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResponseStatus>,
    /// Shown to the client (`kubectl` prints them as `Warning: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The `meta/v1.Status` of a denied review.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ResponseStatus {
    /// `Failure`.
    pub status: String,
    /// HTTP status the client sees: 403 for a policy deny, 400 for a review
    /// or object that cannot be checked (kube-apiserver raises anything
    /// below 400 to 400).
    pub code: u16,
    /// `Forbidden` or `BadRequest` (a `meta/v1.StatusReason`).
    pub reason: String,
    pub message: String,
}

/// A response to the review `uid`: allowed, or denied with `message` as
/// `status.message` (code 403, reason `Forbidden`). `message` is ignored
/// when allowed. Control characters in the message and the warnings become
/// spaces; the message is cut to [`MAX_MESSAGE_CHARS`], each warning to
/// [`MAX_WARNING_CHARS`], and the warnings to [`MAX_WARNINGS`].
pub fn review_response(
    uid: &str,
    allowed: bool,
    message: &str,
    warnings: &[String],
) -> AdmissionReviewResponse {
    let status = (!allowed).then(|| ResponseStatus {
        status: "Failure".into(),
        code: 403,
        reason: "Forbidden".into(),
        message: clean(message, MAX_MESSAGE_CHARS),
    });
    respond(uid, allowed, status, warnings)
}

/// Allow the review `uid`, with warnings (see [`review_response`]).
pub fn allow(uid: &str, warnings: &[String]) -> AdmissionReviewResponse {
    review_response(uid, true, "", warnings)
}

/// Deny the review `uid` with `message` (see [`review_response`]).
pub fn deny(uid: &str, message: &str, warnings: &[String]) -> AdmissionReviewResponse {
    review_response(uid, false, message, warnings)
}

/// Deny the review `uid` because it, or its object, cannot be checked:
/// `status.code` 400, reason `BadRequest`, the error as the message.
pub fn bad_request_response(uid: &str, error: &AdmissionError) -> AdmissionReviewResponse {
    let status = ResponseStatus {
        status: "Failure".into(),
        code: 400,
        reason: "BadRequest".into(),
        message: clean(&error.to_string(), MAX_MESSAGE_CHARS),
    };
    respond(uid, false, Some(status), &[])
}

fn respond(
    uid: &str,
    allowed: bool,
    status: Option<ResponseStatus>,
    warnings: &[String],
) -> AdmissionReviewResponse {
    let mut kept: Vec<String> = warnings
        .iter()
        .take(MAX_WARNINGS)
        .map(|w| clean(w, MAX_WARNING_CHARS))
        .collect();
    if warnings.len() > MAX_WARNINGS {
        // The last place says how many were left out.
        kept.truncate(MAX_WARNINGS - 1);
        kept.push(format!(
            "… and {} more warnings",
            warnings.len() - (MAX_WARNINGS - 1)
        ));
    }
    AdmissionReviewResponse {
        api_version: API_VERSION.into(),
        kind: REVIEW_KIND.into(),
        response: AdmissionResponse {
            uid: uid.to_owned(),
            allowed,
            status,
            warnings: kept,
        },
    }
}

/// Control characters as spaces; at most `max` characters, the last `…`
/// when cut.
fn clean(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max + 1)
        .collect();
    if out.chars().count() > max {
        out = out.chars().take(max - 1).collect();
        out.push('…');
    }
    out
}

/// At most [`MAX_QUOTED_CHARS`] characters of `s`, the last `…` when cut.
fn quoted(s: &str) -> String {
    clean(s, MAX_QUOTED_CHARS)
}

// ---------------------------------------------------------------------------
// JSON walking

fn missing(path: &str) -> AdmissionError {
    AdmissionError::MissingField {
        path: path.to_owned(),
    }
}

fn wrong_type(path: &str, expected: &'static str) -> AdmissionError {
    AdmissionError::WrongType {
        path: path.to_owned(),
        expected,
    }
}

fn wrong_value(path: &str, expected: &str, found: &str) -> AdmissionError {
    AdmissionError::WrongValue {
        path: path.to_owned(),
        expected: expected.to_owned(),
        found: quoted(found),
    }
}

/// The field, `None` when absent or `null`.
fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

fn opt_str<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, AdmissionError> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(&format!("{path}.{key}"), "a string")),
    }
}

fn req_str<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, AdmissionError> {
    opt_str(m, key, path)?.ok_or_else(|| missing(&format!("{path}.{key}")))
}

fn opt_object<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, AdmissionError> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(wrong_type(&format!("{path}.{key}"), "an object")),
    }
}

fn req_object<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, AdmissionError> {
    opt_object(m, key, path)?.ok_or_else(|| missing(&format!("{path}.{key}")))
}

/// The string field `key` of the review's root must be `want`.
fn expect_literal(m: &Map<String, Value>, key: &str, want: &str) -> Result<(), AdmissionError> {
    match field(m, key) {
        None => Err(missing(key)),
        Some(Value::String(found)) if found == want => Ok(()),
        Some(Value::String(found)) => Err(wrong_value(key, want, found)),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODEL_DIGEST: &str =
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const IMAGE_DIGEST: &str =
        "sha256:4edfcf0dcb8f585fe8294b55a256bd1adfc0b6adc6344ae0c968baaec7e373cb";

    fn model() -> String {
        format!("team-a/fraud-detector@{MODEL_DIGEST}")
    }

    fn image() -> String {
        format!("registry.example.com/team-a/fraud-scorer@{IMAGE_DIGEST}")
    }

    fn pod_spec() -> Value {
        json!({"containers": [{"name": "scorer", "image": image()}]})
    }

    fn template() -> Value {
        json!({"metadata": {"annotations": {MODEL_ANNOTATION: model()}}, "spec": pod_spec()})
    }

    /// A minimal object of `kind` (group, kind) with a pod template where it has one.
    fn object(group: &str, kind: &str) -> Value {
        let api = if group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{group}/v1")
        };
        let spec = match kind {
            "Pod" => pod_spec(),
            "CronJob" => {
                json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}})
            }
            _ => json!({"template": template()}),
        };
        let annotations = if kind == "Pod" {
            json!({MODEL_ANNOTATION: model()})
        } else {
            json!({})
        };
        json!({
            "apiVersion": api, "kind": kind,
            "metadata": {"name": "w", "namespace": "team-a", "annotations": annotations},
            "spec": spec,
        })
    }

    fn review(group: &str, kind: &str, operation: &str, object: Value) -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": REVIEW_KIND,
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": group, "version": "v1", "kind": kind},
                "resource": {"group": group, "version": "v1", "resource": format!("{}s", kind.to_lowercase())},
                "name": "w", "namespace": "team-a", "operation": operation,
                "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
                "object": object, "oldObject": null, "dryRun": false,
            }
        })
    }

    fn parse(v: &Value) -> Result<AdmissionRequest, InvalidReview> {
        parse_review(&serde_json::to_vec(v).unwrap())
    }

    fn checked(v: &Value) -> Result<Workload, AdmissionError> {
        match workload(&parse(v).unwrap())? {
            Admission::Workload(w) => Ok(w),
            other => panic!("expected a workload, got {other:?}"),
        }
    }

    fn pinned() -> ModelAnnotation {
        ModelAnnotation::Pinned(ModelRef {
            namespace: "team-a".into(),
            model: "fraud-detector".into(),
            digest: MODEL_DIGEST.parse().unwrap(),
        })
    }

    fn path_of<T: fmt::Debug>(r: Result<T, AdmissionError>) -> String {
        r.unwrap_err().path().expect("a path").to_owned()
    }

    #[test]
    fn every_kind() {
        for (group, kind, want) in [
            ("", "Pod", WorkloadKind::Pod),
            ("apps", "Deployment", WorkloadKind::Deployment),
            ("apps", "StatefulSet", WorkloadKind::StatefulSet),
            ("apps", "DaemonSet", WorkloadKind::DaemonSet),
            ("apps", "ReplicaSet", WorkloadKind::ReplicaSet),
            (
                "",
                "ReplicationController",
                WorkloadKind::ReplicationController,
            ),
            ("batch", "Job", WorkloadKind::Job),
            ("batch", "CronJob", WorkloadKind::CronJob),
        ] {
            let w = checked(&review(group, kind, "CREATE", object(group, kind))).unwrap();
            assert_eq!(w.kind, want, "{kind}");
            assert_eq!(w.kind.group(), group);
            assert_eq!((w.name.as_str(), w.namespace.as_str()), ("w", "team-a"));
            assert_eq!(w.models, vec![pinned()], "{kind}");
            assert_eq!(w.images.len(), 1);
            assert_eq!(w.images[0].digest, Some(IMAGE_DIGEST.parse().unwrap()));
            assert_eq!(w.images[0].container, "scorer");
            assert_eq!(w.images[0].list, ContainerList::Containers);
        }
        assert_eq!(WorkloadKind::ALL.len(), 8);
    }

    #[test]
    fn request_fields() {
        let mut v = review("", "Pod", "UPDATE", object("", "Pod"));
        v["request"]["subResource"] = json!("ephemeralcontainers");
        v["request"]["dryRun"] = json!(true);
        v["request"]["userInfo"]["extra"] = json!({"scopes": ["a", "b"]});
        v["request"]["oldObject"] = object("", "Pod");
        let r = parse(&v).unwrap();
        assert_eq!(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(r.operation, Operation::Update);
        assert_eq!(r.sub_resource.as_deref(), Some("ephemeralcontainers"));
        assert!(r.dry_run);
        assert_eq!(r.user_info.username, "alice");
        assert_eq!(r.user_info.groups, ["system:authenticated"]);
        assert_eq!(r.user_info.extra["scopes"], ["a", "b"]);
        assert_eq!(r.resource.resource, "pods");
        assert!(old_workload(&r).unwrap().is_some());
    }

    #[test]
    fn malformed_json() {
        for body in [&b""[..], b"{", b"[1,2", b"\xff\xfe", b"{\"apiVersion\": }"] {
            let e = parse_review(body).unwrap_err();
            assert_eq!(e.uid, None);
            assert!(matches!(e.error, AdmissionError::Json { .. }), "{e}");
            assert!(e.deny_response().is_none());
        }
        // Nesting is bounded by serde_json's recursion limit, not the stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_review(deep.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
        let e = parse_review(b"[]").unwrap_err();
        assert_eq!(e.error.path(), Some("(root)"));
    }

    #[test]
    fn wrong_api_version_or_kind() {
        let mut v = review("", "Pod", "CREATE", object("", "Pod"));
        v["apiVersion"] = json!("admission.k8s.io/v1beta1");
        let e = parse(&v).unwrap_err();
        assert_eq!(
            e.error,
            AdmissionError::WrongValue {
                path: "apiVersion".into(),
                expected: API_VERSION.into(),
                found: "admission.k8s.io/v1beta1".into()
            }
        );
        // The uid was read: the refusal is answered as a review, code 400.
        let answer = e.deny_response().unwrap();
        assert_eq!(answer.response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert!(!answer.response.allowed);
        let status = answer.response.status.unwrap();
        assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
        assert!(status.message.contains("apiVersion"), "{}", status.message);

        let mut v = review("", "Pod", "CREATE", object("", "Pod"));
        v["kind"] = json!("ConversionReview");
        assert_eq!(parse(&v).unwrap_err().error.path(), Some("kind"));
        v.as_object_mut().unwrap().remove("kind");
        assert_eq!(
            parse(&v).unwrap_err().error,
            AdmissionError::MissingField {
                path: "kind".into()
            }
        );
        let mut v = review("", "Pod", "CREATE", object("", "Pod"));
        v["apiVersion"] = json!(1);
        assert!(matches!(
            parse(&v).unwrap_err().error,
            AdmissionError::WrongType { .. }
        ));
    }

    #[test]
    fn missing_uid_request_or_object() {
        let base = review("", "Pod", "CREATE", object("", "Pod"));
        for (edit, path) in [
            ("request", "request"),
            ("uid", "request.uid"),
            ("kind", "request.kind"),
            ("resource", "request.resource"),
            ("operation", "request.operation"),
            ("userInfo", "request.userInfo"),
            ("object", "request.object"),
        ] {
            let mut v = base.clone();
            if edit == "request" {
                v.as_object_mut().unwrap().remove("request");
            } else {
                v["request"].as_object_mut().unwrap().remove(edit);
            }
            let e = parse(&v).unwrap_err();
            assert_eq!(
                e.error,
                AdmissionError::MissingField { path: path.into() },
                "{edit}"
            );
            assert_eq!(e.uid.is_some(), !matches!(edit, "request" | "uid"));
        }
        let mut v = base.clone();
        v["request"]["uid"] = json!("");
        let e = parse(&v).unwrap_err();
        assert_eq!(e.error.path(), Some("request.uid"));
        assert!(e.deny_response().is_none());
        let mut v = base.clone();
        v["request"]["uid"] = json!(42);
        assert_eq!(parse(&v).unwrap_err().error.path(), Some("request.uid"));
        let mut v = base.clone();
        v["request"]["object"] = json!(null);
        assert_eq!(parse(&v).unwrap_err().error.path(), Some("request.object"));
        let mut v = base.clone();
        v["request"]["object"] = json!("a pod");
        assert_eq!(
            parse(&v).unwrap_err().error,
            AdmissionError::WrongType {
                path: "request.object".into(),
                expected: "an object"
            }
        );
        let mut v = base.clone();
        v["request"]["operation"] = json!("PATCH");
        assert_eq!(
            parse(&v).unwrap_err().error.path(),
            Some("request.operation")
        );
        let mut v = base;
        v["request"]["kind"]["kind"] = json!(null);
        assert_eq!(
            parse(&v).unwrap_err().error.path(),
            Some("request.kind.kind")
        );
    }

    #[test]
    fn delete_and_connect_have_nothing_to_check() {
        let mut v = review("apps", "Deployment", "DELETE", Value::Null);
        v["request"]["oldObject"] = object("apps", "Deployment");
        let r = parse(&v).unwrap();
        assert_eq!(r.object, None);
        assert_eq!(
            workload(&r).unwrap(),
            Admission::NothingToCheck {
                operation: Operation::Delete
            }
        );
        // Even a kind this webhook does not check.
        let v = review("", "Service", "DELETE", Value::Null);
        assert!(matches!(
            workload(&parse(&v).unwrap()).unwrap(),
            Admission::NothingToCheck { .. }
        ));
        let v = review("", "PodExecOptions", "CONNECT", json!({"command": ["sh"]}));
        assert!(matches!(
            workload(&parse(&v).unwrap()).unwrap(),
            Admission::NothingToCheck {
                operation: Operation::Connect
            }
        ));
    }

    #[test]
    fn unknown_kinds() {
        for (group, version, kind) in [
            ("", "v1", "Service"),
            ("", "v1", "ConfigMap"),
            ("apps", "v1beta1", "Deployment"),
            ("extensions", "v1", "Deployment"),
            ("batch", "v1", "Pod"),
        ] {
            let mut v = review(group, kind, "CREATE", json!({"metadata": {"name": "x"}}));
            v["request"]["kind"]["version"] = json!(version);
            let e = workload(&parse(&v).unwrap()).unwrap_err();
            assert_eq!(
                e,
                AdmissionError::UnsupportedKind {
                    group: group.into(),
                    version: version.into(),
                    kind: kind.into()
                }
            );
            assert!(e.to_string().contains(kind), "{e}");
        }
    }

    #[test]
    fn object_kind_must_match_request_kind() {
        let v = review(
            "apps",
            "Deployment",
            "CREATE",
            object("apps", "StatefulSet"),
        );
        let e = checked(&v).unwrap_err();
        assert_eq!(e.path(), Some("request.object.kind"));
    }

    #[test]
    fn missing_templates_and_specs() {
        type Edit = fn(&mut Value);
        let cases: Vec<(&str, &str, Edit, &str)> = vec![
            (
                "apps",
                "Deployment",
                |o| {
                    o["spec"].as_object_mut().unwrap().remove("template");
                },
                "request.object.spec.template",
            ),
            (
                "apps",
                "Deployment",
                |o| {
                    o["spec"]["template"]
                        .as_object_mut()
                        .unwrap()
                        .remove("spec");
                },
                "request.object.spec.template.spec",
            ),
            (
                "apps",
                "StatefulSet",
                |o| {
                    o.as_object_mut().unwrap().remove("spec");
                },
                "request.object.spec",
            ),
            (
                "batch",
                "CronJob",
                |o| {
                    o["spec"]["jobTemplate"]["spec"]
                        .as_object_mut()
                        .unwrap()
                        .remove("template");
                },
                "request.object.spec.jobTemplate.spec.template",
            ),
            (
                "batch",
                "CronJob",
                |o| {
                    o["spec"].as_object_mut().unwrap().remove("jobTemplate");
                },
                "request.object.spec.jobTemplate",
            ),
            (
                "batch",
                "Job",
                |o| {
                    o["spec"]["template"] = json!([]);
                },
                "request.object.spec.template",
            ),
            (
                "",
                "Pod",
                |o| {
                    o.as_object_mut().unwrap().remove("metadata");
                },
                "request.object.metadata",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["spec"]["containers"] = json!([]);
                },
                "request.object.spec.containers",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["spec"].as_object_mut().unwrap().remove("containers");
                },
                "request.object.spec.containers",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["spec"]["containers"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("image");
                },
                "request.object.spec.containers[0].image",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["spec"]["containers"][0]["image"] = json!("");
                },
                "request.object.spec.containers[0].image",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["spec"]["initContainers"] = json!([{"image": "x"}]);
                },
                "request.object.spec.initContainers[0].name",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["spec"]["ephemeralContainers"] = json!({"name": "x"});
                },
                "request.object.spec.ephemeralContainers",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["metadata"]["annotations"][MODEL_ANNOTATION] = json!(["a/b@sha256:x"]);
                },
                "request.object.metadata.annotations[\"provenant.dev/model\"]",
            ),
            (
                "",
                "Pod",
                |o| {
                    o["metadata"]["namespace"] = json!("team-b");
                },
                "request.object.metadata.namespace",
            ),
        ];
        for (group, kind, edit, path) in cases {
            let mut o = object(group, kind);
            edit(&mut o);
            let e = checked(&review(group, kind, "CREATE", o)).unwrap_err();
            assert_eq!(e.path(), Some(path), "{kind}: {e}");
            assert!(e.to_string().starts_with(path), "{e}");
        }
    }

    #[test]
    fn names_and_namespaces() {
        let mut o = object("", "Pod");
        o["metadata"] = json!({"generateName": "scorer-", "annotations": {}});
        let mut v = review("", "Pod", "CREATE", o);
        v["request"].as_object_mut().unwrap().remove("name");
        let w = checked(&v).unwrap();
        assert_eq!(
            (w.name.as_str(), w.namespace.as_str()),
            ("scorer-", "team-a")
        );
        assert!(w.models.is_empty());
        // No name anywhere.
        let mut o = object("", "Pod");
        o["metadata"] = json!({});
        let mut v = review("", "Pod", "CREATE", o);
        v["request"].as_object_mut().unwrap().remove("name");
        assert_eq!(path_of(checked(&v)), "request.object.metadata.name");
        // No namespace anywhere.
        let mut o = object("", "Pod");
        o["metadata"].as_object_mut().unwrap().remove("namespace");
        let mut v = review("", "Pod", "CREATE", o);
        v["request"].as_object_mut().unwrap().remove("namespace");
        assert_eq!(path_of(checked(&v)), "request.namespace");
    }

    #[test]
    fn annotations_union_in_order() {
        let other = format!("team-a/ranker@sha256:{}", "b".repeat(64));
        let mut o = object("batch", "CronJob");
        o["metadata"]["annotations"][MODEL_ANNOTATION] = json!(model());
        o["spec"]["jobTemplate"]["metadata"] =
            json!({"annotations": {MODEL_ANNOTATION: format!("{other}, {}", model())}});
        o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"][MODEL_ANNOTATION] =
            json!(format!("{}\n  team-a/ranker:3", model()));
        let w = checked(&review("batch", "CronJob", "CREATE", o)).unwrap();
        let texts: Vec<String> = w.models.iter().map(ModelAnnotation::text).collect();
        assert_eq!(texts, [model(), other, "team-a/ranker:3".into()]);
        // No annotation anywhere: no models.
        let mut o = object("apps", "Deployment");
        o["spec"]["template"]["metadata"] = json!({"labels": {"app": "x"}});
        assert!(
            checked(&review("apps", "Deployment", "CREATE", o))
                .unwrap()
                .models
                .is_empty()
        );
    }

    #[test]
    fn annotation_values() {
        // Separators: commas, spaces, newlines, tabs, repeated.
        let v = format!(" {m},,{o}\n\t{m} ,", m = model(), o = "team-a/x@production");
        let parsed = parse_model_annotation(&v);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0], pinned());
        // Empty or only separators: one malformed entry, never nothing.
        for empty in ["", "   ", ",\n,"] {
            let parsed = parse_model_annotation(empty);
            assert!(
                matches!(&parsed[..], [ModelAnnotation::Malformed { reason, .. }] if reason.contains("names no model")),
                "{empty:?}: {parsed:?}"
            );
        }
        let mut o = object("", "Pod");
        o["metadata"]["annotations"][MODEL_ANNOTATION] = json!("");
        let w = checked(&review("", "Pod", "CREATE", o)).unwrap();
        assert_eq!(w.malformed_models().count(), 1);
        // Too many references.
        let many = (0..=MAX_MODEL_REFERENCES)
            .map(|i| format!("ns/m{i}@{MODEL_DIGEST}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut o = object("", "Pod");
        o["metadata"]["annotations"][MODEL_ANNOTATION] = json!(many);
        assert!(matches!(
            checked(&review("", "Pod", "CREATE", o)).unwrap_err(),
            AdmissionError::TooMany {
                count: 65,
                max: 64,
                ..
            }
        ));
    }

    #[test]
    fn pinned_references() {
        let deep = format!("netops/edge/latency-v2@{MODEL_DIGEST}");
        match ModelAnnotation::parse(&deep) {
            ModelAnnotation::Pinned(r) => {
                assert_eq!(r.namespace, "netops/edge");
                assert_eq!(r.model, "latency-v2");
                assert_eq!(r.full_name(), "netops/edge/latency-v2");
                assert_eq!(r.to_string(), deep);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mutable_references() {
        for (text, selector) in [
            (
                "team-a/fraud-detector:production",
                MutableSelector::Alias("production".into()),
            ),
            (
                "team-a/fraud-detector#production",
                MutableSelector::Alias("production".into()),
            ),
            (
                "team-a/fraud-detector@production",
                MutableSelector::Alias("production".into()),
            ),
            ("team-a/fraud-detector@3", MutableSelector::Number(3)),
            ("team-a/fraud-detector:3", MutableSelector::Number(3)),
            ("team-a/fraud-detector", MutableSelector::Latest),
            (
                "team-a/fraud-detector@sha256:AAAAAAAAAAAA",
                MutableSelector::DigestPrefix("sha256:aaaaaaaaaaaa".into()),
            ),
        ] {
            assert_eq!(
                ModelAnnotation::parse(text),
                ModelAnnotation::Mutable {
                    text: text.into(),
                    namespace: "team-a".into(),
                    model: "fraud-detector".into(),
                    selector
                },
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_references() {
        for (text, why) in [
            ("fraud-detector@sha256:aa", "digest"),
            ("team-a/fraud-detector@sha256:1234", "64 hex"),
            ("team-a/fraud-detector@sha256:zzzzzzzzzzzzzzzz", "digest"),
            ("team-a/fraud-detector@md5:0123456789abcdef", "algorithm"),
            (&format!("team-a/Fraud@{MODEL_DIGEST}"), "lowercase"),
            (&format!("fraud-detector@{MODEL_DIGEST}"), "namespace/name"),
            (&format!("team-a//x@{MODEL_DIGEST}"), "empty segment"),
            (&format!("/x@{MODEL_DIGEST}"), "empty segment"),
            (&format!("team-a/-x@{MODEL_DIGEST}"), "must start"),
            (&format!("team-a/x:1@{MODEL_DIGEST}"), "':'"),
            ("team-a/x#7", "all digits"),
            ("team-a/x#Prod", "alias"),
            ("team-a/x:0", "start at 1"),
            ("team-a/x:99999999999999999999", "out of range"),
            ("team-a/x@", "alias"),
            ("team-a/x:", "alias"),
            ("team-a/x@a@b", "'@'"),
            (&format!("a/{}", "x".repeat(600)), "512"),
        ] {
            match ModelAnnotation::parse(text) {
                ModelAnnotation::Malformed { text: t, reason } => {
                    assert!(reason.contains(why), "{text}: {reason}");
                    assert!(t.chars().count() <= 200);
                }
                other => panic!("{text} accepted as {other:?}"),
            }
        }
        // A long malformed entry is quoted cut.
        let long = "X".repeat(1000);
        match ModelAnnotation::parse(&long) {
            ModelAnnotation::Malformed { text, .. } => {
                assert_eq!(text.chars().count(), 200);
                assert!(text.ends_with('…'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn images_of_every_list() {
        let mut o = object("apps", "Deployment");
        o["spec"]["template"]["spec"] = json!({
            "containers": [
                {"name": "app", "image": image()},
                {"name": "tagged", "image": "registry.example.com/app:1.2"},
                {"name": "bare", "image": "nginx"},
                {"name": "both", "image": format!("registry.example.com/app:1.2@{IMAGE_DIGEST}")},
            ],
            "initContainers": [{"name": "init", "image": "registry.example.com/init@sha256:1234"}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox@sha256:ZZ"}],
        });
        let w = checked(&review("apps", "Deployment", "CREATE", o)).unwrap();
        let got: Vec<(&str, ContainerList, bool, bool)> = w
            .images
            .iter()
            .map(|i| {
                (
                    i.container.as_str(),
                    i.list,
                    i.digest.is_some(),
                    i.digest_error.is_some(),
                )
            })
            .collect();
        use ContainerList::*;
        assert_eq!(
            got,
            [
                ("app", Containers, true, false),
                ("tagged", Containers, false, false),
                ("bare", Containers, false, false),
                ("both", Containers, true, false),
                ("init", InitContainers, false, true),
                ("debug", EphemeralContainers, false, true),
            ]
        );
        assert_eq!(w.unpinned_images().count(), 4);
        assert!(
            w.images[4]
                .digest_error
                .as_deref()
                .unwrap()
                .contains("64 hex")
        );
    }

    #[test]
    fn responses() {
        let uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
        let allowed = serde_json::to_value(allow(uid, &[])).unwrap();
        assert_eq!(
            allowed,
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                   "response": {"uid": uid, "allowed": true}})
        );
        let denied = serde_json::to_value(deny(
            uid,
            "provenant.signed: team-a/fraud-detector is not signed",
            &["provenant.licences: licence unknown".into()],
        ))
        .unwrap();
        assert_eq!(
            denied,
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                   "response": {"uid": uid, "allowed": false,
                       "status": {"status": "Failure", "code": 403, "reason": "Forbidden",
                                  "message": "provenant.signed: team-a/fraud-detector is not signed"},
                       "warnings": ["provenant.licences: licence unknown"]}})
        );
        // Same as the general builder; round trips.
        let r = review_response(uid, false, "no", &[]);
        assert_eq!(r, deny(uid, "no", &[]));
        let back: AdmissionReviewResponse =
            serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        // Allowed: the message is not sent.
        assert!(
            review_response(uid, true, "ignored", &[])
                .response
                .status
                .is_none()
        );
    }

    #[test]
    fn response_bounds() {
        let long = format!("a\nb\u{7}{}", "é".repeat(300));
        let warnings: Vec<String> = (0..40).map(|i| format!("w{i} {long}")).collect();
        let r = deny("u", &"m".repeat(10_000), &warnings);
        let status = r.response.status.unwrap();
        assert_eq!(status.message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(status.message.ends_with('…'));
        assert_eq!(r.response.warnings.len(), MAX_WARNINGS);
        for w in &r.response.warnings {
            assert!(w.chars().count() <= MAX_WARNING_CHARS, "{w}");
            assert!(!w.chars().any(char::is_control), "{w:?}");
        }
        assert!(r.response.warnings[0].starts_with("w0 a b "));
        assert_eq!(
            r.response.warnings.last().unwrap(),
            &format!("… and {} more warnings", 40 - (MAX_WARNINGS - 1))
        );
        // Exactly the maximum: all kept, none summed up.
        let r = allow("u", &warnings[..MAX_WARNINGS]);
        assert!(r.response.warnings.last().unwrap().starts_with("w15"));
        // A short warning is untouched.
        assert_eq!(allow("u", &["short".into()]).response.warnings, ["short"]);
    }

    #[test]
    fn bad_request_answer() {
        let e = AdmissionError::MissingField {
            path: "request.object.spec.template.spec".into(),
        };
        let r = bad_request_response("u", &e);
        assert!(!r.response.allowed);
        let status = r.response.status.unwrap();
        assert_eq!(status.code, 400);
        assert_eq!(
            status.message,
            "request.object.spec.template.spec: required field is missing"
        );
    }

    #[test]
    fn displays() {
        assert_eq!(pinned().to_string(), model());
        assert_eq!(
            ModelAnnotation::parse("team-a/x:production").to_string(),
            "team-a/x:production"
        );
        assert_eq!(
            ModelAnnotation::parse("team-a/x#7").to_string(),
            "\"team-a/x#7\" (an alias cannot be all digits)"
        );
    }

    /// Prefixes of every fixture (every 7th length), fixtures with bytes
    /// changed here and there, and random annotation text: errors are fine,
    /// panics are not (a cheap stand-in for a fuzz target). No proper
    /// prefix of a review is a review.
    #[test]
    fn damaged_fixtures_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for entry in std::fs::read_dir(fixture_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for end in (0..bytes.trim_ascii_end().len()).step_by(7) {
                let cut = parse_review(&bytes[..end]);
                assert!(
                    cut.is_err(),
                    "{}: prefix of {end} bytes parsed",
                    path.display()
                );
                let _ = cut.unwrap_err().deny_response();
            }
            for _ in 0..500 {
                let mut damaged = bytes.clone();
                for _ in 0..3 {
                    let at = (next() as usize) % damaged.len();
                    damaged[at] = b" \"{}[],:0a@#/\\\n"[(next() as usize) % 15];
                }
                match parse_review(&damaged) {
                    Ok(r) => {
                        let _ = workload(&r);
                        let _ = old_workload(&r);
                    }
                    Err(e) => {
                        let _ = e.deny_response();
                    }
                }
            }
        }
        for _ in 0..20_000 {
            let len = (next() as usize) % 40;
            let text: String = (0..len)
                .map(|_| char::from(b"ab-_.:/@#9Zs h256:,"[(next() as usize) % 19]))
                .collect();
            for entry in parse_model_annotation(&text) {
                let _ = entry.to_string();
            }
        }
    }

    // ---- fixtures in testdata/admission

    fn fixture_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/admission")
    }

    fn fixture(name: &str) -> AdmissionRequest {
        let bytes = std::fs::read(fixture_dir().join(name)).unwrap();
        parse_review(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn fixture_workload(name: &str) -> Workload {
        match workload(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Admission::Workload(w) => w,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn every_fixture_is_known_and_parses() {
        let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "cronjob.json",
                "daemonset.json",
                "deployment-delete.json",
                "deployment.json",
                "job.json",
                "pod-ephemeral-debug.json",
                "pod-malformed-annotation.json",
                "pod-mutable-model.json",
                "pod-no-annotation.json",
                "pod-no-digest.json",
                "pod.json",
                "replicaset.json",
                "replicationcontroller.json",
                "service.json",
                "statefulset.json",
            ]
        );
        for name in &names {
            let r = fixture(name);
            assert!(!r.uid.is_empty());
            assert_eq!(r.namespace.as_deref(), Some("team-a"), "{name}");
        }
    }

    #[test]
    fn fixtures_of_every_kind() {
        for (name, kind, workload_name, images) in [
            (
                "pod.json",
                WorkloadKind::Pod,
                "fraud-scorer-6d9f7c8b5d-q8x4n",
                2,
            ),
            (
                "deployment.json",
                WorkloadKind::Deployment,
                "fraud-scorer",
                2,
            ),
            (
                "statefulset.json",
                WorkloadKind::StatefulSet,
                "fraud-feature-store",
                2,
            ),
            (
                "daemonset.json",
                WorkloadKind::DaemonSet,
                "fraud-edge-scorer",
                2,
            ),
            (
                "replicaset.json",
                WorkloadKind::ReplicaSet,
                "fraud-scorer-canary",
                2,
            ),
            (
                "replicationcontroller.json",
                WorkloadKind::ReplicationController,
                "fraud-scorer-legacy",
                2,
            ),
            ("job.json", WorkloadKind::Job, "fraud-backfill", 2),
            (
                "cronjob.json",
                WorkloadKind::CronJob,
                "fraud-nightly-eval",
                2,
            ),
        ] {
            let w = fixture_workload(name);
            assert_eq!(w.kind, kind, "{name}");
            assert_eq!(w.name, workload_name, "{name}");
            assert_eq!(w.namespace, "team-a", "{name}");
            // One model, however many metadata carry the annotation.
            assert_eq!(w.models, vec![pinned()], "{name}");
            assert_eq!(w.images.len(), images, "{name}");
            assert_eq!(w.unpinned_images().count(), 0, "{name}");
            assert_eq!(w.images[0].list, ContainerList::Containers);
            assert_eq!(w.images[1].list, ContainerList::InitContainers);
            assert_eq!(w.images[0].digest, Some(IMAGE_DIGEST.parse().unwrap()));
        }
        // The model digest is the placeholder the server tests replace, and
        // no image digest could be mistaken for it.
        let text = std::fs::read_to_string(fixture_dir().join("pod.json")).unwrap();
        assert_eq!(text.matches(MODEL_DIGEST).count(), 1);
    }

    #[test]
    fn bad_fixtures() {
        let w = fixture_workload("pod-no-digest.json");
        let unpinned: Vec<&str> = w.unpinned_images().map(|i| i.image.as_str()).collect();
        assert_eq!(unpinned, ["registry.example.com/team-a/fraud-scorer:1.4.2"]);
        assert_eq!(w.images[0].digest_error, None);

        let w = fixture_workload("pod-mutable-model.json");
        assert!(matches!(
            &w.models[..],
            [ModelAnnotation::Mutable { text, selector: MutableSelector::Alias(a), .. }]
                if text == "team-a/fraud-detector:production" && a == "production"
        ));

        let w = fixture_workload("pod-malformed-annotation.json");
        assert_eq!(w.models.len(), 2);
        assert_eq!(w.models[0], pinned());
        let bad: Vec<&ModelAnnotation> = w.malformed_models().collect();
        assert!(
            matches!(bad[..], [ModelAnnotation::Malformed { text, reason }]
                if text == "team-a/Fraud-Ranker@sha256:1234" && reason.contains("digest")),
            "{bad:?}"
        );

        let w = fixture_workload("pod-no-annotation.json");
        assert!(w.models.is_empty());
        assert_eq!(w.unpinned_images().count(), 0);

        let r = fixture("pod-ephemeral-debug.json");
        assert_eq!(r.operation, Operation::Update);
        assert_eq!(r.sub_resource.as_deref(), Some("ephemeralcontainers"));
        let w = fixture_workload("pod-ephemeral-debug.json");
        let unpinned: Vec<(&str, ContainerList)> = w
            .unpinned_images()
            .map(|i| (i.image.as_str(), i.list))
            .collect();
        assert_eq!(
            unpinned,
            [("busybox:1.36", ContainerList::EphemeralContainers)]
        );
        let old = old_workload(&r).unwrap().unwrap();
        assert_eq!(old.images.len(), 2);

        let e = workload(&fixture("service.json")).unwrap_err();
        assert_eq!(
            e,
            AdmissionError::UnsupportedKind {
                group: String::new(),
                version: "v1".into(),
                kind: "Service".into()
            }
        );

        let r = fixture("deployment-delete.json");
        assert_eq!(r.object, None);
        assert!(r.old_object.is_some());
        assert_eq!(
            workload(&r).unwrap(),
            Admission::NothingToCheck {
                operation: Operation::Delete
            }
        );
    }

    #[test]
    fn fixtures_with_real_digest_substituted() {
        // What the server tests do: swap the placeholder for a published digest.
        let real = Digest::sha256(b"published model");
        let text = std::fs::read_to_string(fixture_dir().join("deployment.json"))
            .unwrap()
            .replace(MODEL_DIGEST, &real.to_string());
        let r = parse_review(text.as_bytes()).unwrap();
        let Admission::Workload(w) = workload(&r).unwrap() else {
            panic!("not a workload")
        };
        assert!(matches!(&w.models[..], [ModelAnnotation::Pinned(m)] if m.digest == real));
    }
}
