//! Training provenance, lineage and impact analysis.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use provenant_api::{ImpactView, LineageView, ProvenanceView};

use super::{JsonResult, reference};
use crate::api_error::{ApiError, ErrorCode};
use crate::authz::{Authenticated, CanPublish, CanRead};
use crate::state::AppState;

/// Attach SLSA provenance (ML-training build type). The server verifies the
/// signature, that the subject is the version's OMS root digest (or manifest
/// digest), the predicate against the build type's schema and required
/// inputs, and that parent versions exist without forming a cycle; the
/// attestation and its lineage edges are stored in one transaction.
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{number}/provenance", tag = "provenance", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    request_body = super::BundleBody,
    responses((status = 201, body = ProvenanceView), (status = 200, body = ProvenanceView, description = "already attached"),
              (status = 400, body = crate::api_error::ErrorBody, description = "invalid_bundle, invalid_signature, invalid_attestation, subject_mismatch, invalid_provenance or lineage_cycle")))]
pub async fn attach(
    State(state): State<AppState>,
    CanPublish { principal: p, .. }: CanPublish,
    Path((model, number)): Path<(String, String)>,
    body: Result<Json<super::BundleBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ProvenanceView>), ApiError> {
    let Json(body) = body?;
    let (view, created) = state
        .registry
        .attach_provenance(
            &reference(&model, &number)?,
            &super::attachment_input(body, &p.caller)?,
            &p.name,
        )
        .await?;
    Ok(super::attached(created, view))
}

/// Provenance attestations of a version, with a summary of each.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/provenance", tag = "provenance", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    responses((status = 200, body = Vec<ProvenanceView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number)): Path<(String, String)>,
) -> JsonResult<Vec<ProvenanceView>> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    Ok(Json(state.registry.provenance(&row).await?))
}

/// Upstream (datasets, commits, images, parent versions and theirs) and
/// downstream (fine-tuned versions) of a version.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/lineage", tag = "provenance", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    responses((status = 200, body = LineageView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn lineage(
    State(state): State<AppState>,
    allowed: CanRead,
    Path((model, number)): Path<(String, String)>,
) -> JsonResult<LineageView> {
    let mut view = state.registry.lineage(&reference(&model, &number)?).await?;
    allowed
        .principal
        .caller
        .visibility()
        .filter_lineage(&mut view);
    Ok(Json(view))
}

/// Every version affected by an input, directly or through parent versions,
/// and every alias pointing at one.
#[utoipa::path(get, path = "/api/v1/impact", tag = "provenance", security(("bearer" = [])),
    params(("input" = String, Query, description = "`dataset:sha256:<hex>`, `commit:<sha>` or `image:sha256:<hex>`")),
    responses((status = 200, body = ImpactView), (status = 400, body = crate::api_error::ErrorBody)))]
pub async fn impact(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RawQuery(q): RawQuery,
) -> JsonResult<ImpactView> {
    let input = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "input")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidInput, "query parameter input is required")
        })?;
    let input = provenant_registry::ImpactInput::parse(&input)?;
    let mut view = state.registry.impact(&input).await?;
    caller.caller.visibility().filter_impact(&mut view);
    Ok(Json(view))
}

/// The JSON Schema of the ML-training build type's SLSA predicate.
#[utoipa::path(get, path = "/api/v1/schemas/ml-training-build-type.json", tag = "meta",
    responses((status = 200, description = "JSON Schema (draft 2020-12)")))]
pub async fn build_type_schema() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
        provenant_provenance::BUILD_TYPE_SCHEMA,
    )
}
