//! The policy gate's routes: decide about a version (`POST /api/v1/gate`),
//! the input document it sees, the decisions recorded, the policy set in
//! force, the input schema, and the Kubernetes admission webhook
//! (`POST /admission`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use provenant_api::admission::{self, Admission, ModelAnnotation, Workload};
use provenant_api::{
    DecisionView, GateBody, PolicyAction, PolicyImage, PolicyInput, PolicySetView, PolicyTarget,
    PolicyWorkload,
};
use provenant_registry::{GateRequest, ModelName, Reference, RegistryError, VersionRow};

use crate::api_error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::authz::{Authenticated, RequestInfo};
use crate::state::AppState;

type JsonResult<T> = Result<Json<T>, ApiError>;

/// The query of the gate routes: `ref` and the target.
#[derive(Default)]
struct GateQuery {
    reference: Option<String>,
    action: Option<PolicyAction>,
    target: PolicyTarget,
    limit: Option<i64>,
}

impl GateQuery {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut q = Self::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let v = v.into_owned();
            match &*k {
                "ref" => q.reference = Some(v),
                "action" => {
                    q.action = Some(v.parse().map_err(|e: String| {
                        ApiError::bad_request(ErrorCode::InvalidBody, format!("action: {e}"))
                    })?);
                }
                "env" => q.target.environment = Some(v),
                "cluster" => q.target.cluster = Some(v),
                "k8s_namespace" => q.target.kubernetes_namespace = Some(v),
                "alias" => q.target.alias = Some(v),
                "limit" => {
                    q.limit = Some(v.parse().map_err(|_| {
                        ApiError::bad_request(
                            ErrorCode::InvalidBody,
                            format!("limit {v:?} is not a number"),
                        )
                    })?);
                }
                _ => {}
            }
        }
        Ok(q)
    }

    fn reference(&self) -> Result<Reference, ApiError> {
        let r = self.reference.as_deref().ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidReference,
                "query parameter ref is required",
            )
        })?;
        Ok(Reference::parse(r)?)
    }
}

/// Longest name a target field may hold (a Kubernetes DNS subdomain).
const MAX_TARGET_NAME: usize = 253;
/// Most images a target may list, and the longest image reference.
const MAX_TARGET_IMAGES: usize = 64;
const MAX_IMAGE_REF: usize = 1024;

/// A target the caller sent, bounded: every decision's input and log entry
/// stay small whoever asks.
fn check_target(t: &PolicyTarget) -> Result<(), ApiError> {
    let too_long = |field: &str, len: usize, max: usize| {
        ApiError::bad_request(
            ErrorCode::InvalidBody,
            format!("target.{field}: {len} characters; at most {max}"),
        )
    };
    for (field, value) in [
        ("environment", &t.environment),
        ("cluster", &t.cluster),
        ("kubernetes_namespace", &t.kubernetes_namespace),
        ("alias", &t.alias),
    ] {
        if let Some(v) = value
            && v.chars().count() > MAX_TARGET_NAME
        {
            return Err(too_long(field, v.chars().count(), MAX_TARGET_NAME));
        }
    }
    if let Some(w) = &t.workload {
        for (field, v) in [
            ("workload.kind", &w.kind),
            ("workload.name", &w.name),
            ("workload.namespace", &w.namespace),
        ] {
            if v.chars().count() > MAX_TARGET_NAME {
                return Err(too_long(field, v.chars().count(), MAX_TARGET_NAME));
            }
        }
    }
    if t.images.len() > MAX_TARGET_IMAGES {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            format!(
                "target.images: {} images; at most {MAX_TARGET_IMAGES}",
                t.images.len()
            ),
        ));
    }
    for (i, image) in t.images.iter().enumerate() {
        let len = image.image.len() + image.digest.as_deref().map_or(0, str::len);
        if len > MAX_IMAGE_REF {
            return Err(too_long(&format!("images[{i}]"), len, MAX_IMAGE_REF));
        }
    }
    Ok(())
}

/// Resolves `ref` for a caller that may read its namespace.
async fn readable_version(
    state: &AppState,
    caller: &Principal,
    request: &RequestInfo,
    q: &GateQuery,
) -> Result<VersionRow, ApiError> {
    let reference = q.reference()?;
    crate::authz::require_read(state, caller, request, &reference.model.namespace).await?;
    Ok(state.registry.resolve(&reference).await?)
}

/// Decides about `row` (or answers the decision cached for the same
/// version, policy set and input), recording and logging a new decision.
pub async fn decide(
    state: &AppState,
    row: &VersionRow,
    req: GateRequest,
    by: &str,
) -> Result<DecisionView, ApiError> {
    let input = state.registry.policy_input(row, &req).await?;
    decide_input(state, row, input, by).await
}

async fn decide_input(
    state: &AppState,
    row: &VersionRow,
    input: PolicyInput,
    by: &str,
) -> Result<DecisionView, ApiError> {
    let input_digest = crate::gate::PolicyGate::input_digest(&input);
    let digest = row.digest.to_string();
    if let Some(hit) = state.gate.cached(&digest, &input_digest) {
        return Ok(hit);
    }
    let action = input.action;
    let environment = input.target.environment.clone();
    let gate = state.gate.clone();
    let document = tokio::task::spawn_blocking(move || gate.decide(&input))
        .await
        .map_err(ApiError::internal)?;
    let model = ModelName::parse(&row.model)?;
    let view = state
        .registry
        .decision_record(
            &model,
            &row.digest,
            Some(row.id),
            action,
            environment.as_deref(),
            &document,
            by,
        )
        .await?;
    state.gate.remember(&digest, &view);
    Ok(view)
}

/// Ask the policy gate about a version: the decision (allowed or not, every
/// reason), recorded and logged. A deny is an answer, not an error (200).
#[utoipa::path(post, path = "/api/v1/gate", tag = "policy", security(("bearer" = [])),
    params(("ref" = String, Query, description = "a version reference (by digest, number, alias)")),
    request_body = GateBody,
    responses((status = 200, body = DecisionView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn gate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: RequestInfo,
    RawQuery(raw): RawQuery,
    body: Result<Json<GateBody>, JsonRejection>,
) -> JsonResult<DecisionView> {
    let Json(body) = body?;
    check_target(&body.target)?;
    let q = GateQuery::parse(raw.as_deref())?;
    let row = readable_version(&state, &caller, &request, &q).await?;
    let req = GateRequest {
        requested: q.reference.clone().unwrap_or_default(),
        action: body.action,
        target: body.target,
    };
    Ok(Json(decide(&state, &row, req, &caller.name).await?))
}

/// The input document the gate sees about a version.
#[utoipa::path(get, path = "/api/v1/policy/input", tag = "policy", security(("bearer" = [])),
    params(("ref" = String, Query), ("action" = Option<String>, Query, description = "ingest, promote or deploy (default)"),
           ("env" = Option<String>, Query), ("cluster" = Option<String>, Query),
           ("k8s_namespace" = Option<String>, Query), ("alias" = Option<String>, Query)),
    responses((status = 200, body = PolicyInput), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn input(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: RequestInfo,
    RawQuery(raw): RawQuery,
) -> JsonResult<PolicyInput> {
    let q = GateQuery::parse(raw.as_deref())?;
    check_target(&q.target)?;
    let row = readable_version(&state, &caller, &request, &q).await?;
    let req = GateRequest {
        requested: q.reference.clone().unwrap_or_default(),
        action: q.action.unwrap_or(PolicyAction::Deploy),
        target: q.target.clone(),
    };
    Ok(Json(state.registry.policy_input(&row, &req).await?))
}

/// Decisions recorded about a version (the push's included), newest first.
#[utoipa::path(get, path = "/api/v1/decisions", tag = "policy", security(("bearer" = [])),
    params(("ref" = String, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = Vec<DecisionView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn decisions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: RequestInfo,
    RawQuery(raw): RawQuery,
) -> JsonResult<Vec<DecisionView>> {
    let q = GateQuery::parse(raw.as_deref())?;
    let row = readable_version(&state, &caller, &request, &q).await?;
    Ok(Json(
        state
            .registry
            .decisions(&row, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// The policy set in force, and what the gate checks.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policy", security(("bearer" = [])),
    responses((status = 200, body = PolicySetView)))]
pub async fn policies(
    State(state): State<AppState>,
    _caller: Authenticated,
) -> Json<PolicySetView> {
    Json(state.gate.view())
}

/// The JSON Schema (2020-12) of the policy input document, version 1.
#[utoipa::path(get, path = "/api/v1/schemas/policy-input.json", tag = "meta",
    responses((status = 200, description = "JSON Schema", content_type = "application/schema+json")))]
pub async fn input_schema() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
        provenant_policy::INPUT_SCHEMA,
    )
        .into_response()
}

/// Gates a move of `alias` to `row` when the alias is a gated one: the
/// decision is recorded; a deny refuses the move (403 `policy_denied`).
pub async fn gate_promotion(
    state: &AppState,
    row: &VersionRow,
    alias: &str,
    by: &str,
) -> Result<(), ApiError> {
    if !state.gate.gates_promotion(alias) {
        return Ok(());
    }
    let req = GateRequest {
        requested: format!("{}:{}", row.model, row.number),
        action: PolicyAction::Promote,
        target: PolicyTarget {
            alias: Some(alias.to_owned()),
            environment: Some(alias.to_owned()),
            ..PolicyTarget::default()
        },
    };
    let view = decide(state, row, req, by).await?;
    if view.decision.allowed {
        Ok(())
    } else {
        Err(ApiError::policy_denied(view))
    }
}

// ---------------------------------------------------------------------------
// The admission webhook.

/// Largest AdmissionReview accepted (the apiserver caps objects at 1.5 MiB
/// in etcd; a review carries the object and the old one).
pub const ADMISSION_LIMIT: usize = 4 << 20;

/// A Kubernetes validating admission webhook (`admission.k8s.io/v1`) for
/// Pods and the kinds that embed pod templates: every model the
/// `provenant.dev/model` annotation names is decided (action `deploy`, the
/// pod's images in `input.target.images`); the review is allowed only when
/// every decision allows. Fails closed: a review it cannot read, a missing
/// or malformed annotation, a version that does not exist, a model the
/// webhook's credential cannot read, or no answer within the time budget is
/// a deny. A body without a readable `request.uid` is answered 400.
#[utoipa::path(post, path = "/admission", tag = "policy", security(("bearer" = [])),
    request_body(content = Object, description = "an admission.k8s.io/v1 AdmissionReview"),
    responses((status = 200, body = admission::AdmissionReviewResponse),
              (status = 400, body = crate::api_error::ErrorBody, description = "no readable request.uid (`invalid_admission_review`)")))]
pub async fn admission(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> Result<Json<admission::AdmissionReviewResponse>, ApiError> {
    let review = match admission::parse_review(&body) {
        Ok(r) => r,
        Err(invalid) => {
            return match invalid.deny_response() {
                Some(answer) => Ok(Json(answer)),
                None => Err(ApiError::bad_request(
                    ErrorCode::InvalidAdmissionReview,
                    format!(
                        "not an AdmissionReview this webhook can answer: {}",
                        invalid.error
                    ),
                )),
            };
        }
    };
    let uid = review.uid.clone();
    let budget = state.gate.config().admission_timeout;
    let decided = tokio::time::timeout(budget, review_decision(&state, &caller, &review)).await;
    Ok(Json(match decided {
        Ok(Ok((true, warnings))) => admission::allow(&uid, &warnings),
        Ok(Ok((false, reasons))) => {
            let message = reasons.join("; ");
            admission::deny(&uid, &message, &[])
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e.message, "admission review failed: denied");
            admission::deny(
                &uid,
                &format!("provenant could not decide: {}", e.message),
                &[],
            )
        }
        Err(_) => admission::deny(
            &uid,
            &format!(
                "provenant did not decide within {} ms: denied",
                budget.as_millis()
            ),
            &[],
        ),
    }))
}

/// Whether the review is allowed, with the warnings (allowed) or every
/// reason (denied).
async fn review_decision(
    state: &AppState,
    caller: &Principal,
    review: &admission::AdmissionRequest,
) -> Result<(bool, Vec<String>), ApiError> {
    let workload = match admission::workload(review) {
        Ok(Admission::NothingToCheck { .. }) => return Ok((true, Vec::new())),
        Ok(Admission::Workload(w)) => w,
        Err(e) => return Ok((false, vec![format!("{e}")])),
    };
    if workload.models.is_empty() {
        return Ok((
            false,
            vec![format!(
                "{} {}/{} names no model: annotate it with {} (ns/name@sha256:…)",
                workload.kind,
                workload.namespace,
                workload.name,
                admission::MODEL_ANNOTATION
            )],
        ));
    }
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    for model in &workload.models {
        match model_decision(state, caller, review, &workload, model).await? {
            Verdict::Allow(w) => warnings.extend(w),
            Verdict::Deny(r) => reasons.extend(r),
        }
    }
    if reasons.is_empty() {
        Ok((true, warnings))
    } else {
        Ok((false, reasons))
    }
}

enum Verdict {
    Allow(Vec<String>),
    Deny(Vec<String>),
}

async fn model_decision(
    state: &AppState,
    caller: &Principal,
    review: &admission::AdmissionRequest,
    workload: &Workload,
    model: &ModelAnnotation,
) -> Result<Verdict, ApiError> {
    let text = model.text();
    let (reference, requested) = match model {
        ModelAnnotation::Malformed { .. } => {
            return Ok(Verdict::Deny(vec![format!(
                "{}: malformed entry {model}",
                admission::MODEL_ANNOTATION
            )]));
        }
        // A pinned reference, or a mutable one resolved so that the policy
        // (deploy by digest) decides whether a mutable one is acceptable.
        _ => match Reference::parse(&text) {
            Ok(r) => (r, text.clone()),
            Err(e) => {
                return Ok(Verdict::Deny(vec![format!(
                    "{}: {text}: {e}",
                    admission::MODEL_ANNOTATION
                )]));
            }
        },
    };
    if !caller
        .caller
        .allows(provenant_api::Permission::Read, &reference.model.namespace)
    {
        return Ok(Verdict::Deny(vec![format!(
            "model {text}: the webhook's credential ({}) may not read namespace {}",
            caller.name, reference.model.namespace
        )]));
    }
    let row = match state.registry.resolve(&reference).await {
        Ok(row) => row,
        Err(
            RegistryError::ModelNotFound(_)
            | RegistryError::VersionNotFound(_)
            | RegistryError::InvalidReference { .. },
        ) => {
            return Ok(Verdict::Deny(vec![format!(
                "model {text} is not in the registry"
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    let req = GateRequest {
        requested,
        action: PolicyAction::Deploy,
        target: PolicyTarget {
            environment: state.gate.config().admission_environment.clone(),
            cluster: state.gate.config().admission_cluster.clone(),
            kubernetes_namespace: Some(workload.namespace.clone()),
            alias: None,
            workload: Some(PolicyWorkload {
                kind: workload.kind.as_str().to_owned(),
                name: workload.name.clone(),
                namespace: workload.namespace.clone(),
            }),
            images: workload
                .images
                .iter()
                .map(|i| PolicyImage {
                    image: i.image.clone(),
                    digest: i.digest.map(|d| d.to_string()),
                })
                .collect(),
        },
    };
    let by = format!(
        "{} (admission of {} {}/{} by {})",
        caller.name, workload.kind, workload.namespace, workload.name, review.user_info.username
    );
    let view = decide(state, &row, req, &by).await?;
    let d = &view.decision;
    if d.allowed {
        Ok(Verdict::Allow(
            d.warn
                .iter()
                .map(|m| format!("{text}: {}", m.message))
                .collect(),
        ))
    } else {
        Ok(Verdict::Deny(
            d.deny
                .iter()
                .map(|m| format!("{text}: {}: {}", m.policy, m.message))
                .collect(),
        ))
    }
}
