//! Attestations (SBOMs, provenance), vulnerability findings and the
//! server's OSV database.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest as _, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provenant_api::{AttestationView, FindingsView, VulnDbImport, VulnDbStatus};
use provenant_registry::ATTESTATION_MEDIA_TYPE;

use super::{JsonResult, reference};
use crate::api_error::ApiError;
use crate::authz::{CanPublish, CanRead, IsAdmin};
use crate::state::AppState;

/// Attach a signed in-toto attestation: an SBOM (predicate
/// `https://cyclonedx.org/bom` or `https://spdx.dev/Document/v2.3`). The
/// signature is verified against the key or roots sent along, a subject must
/// carry the version's OMS root digest or manifest digest, and the predicate
/// must parse. Attaching an SBOM scans it for known vulnerabilities.
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{number}/attestations", tag = "attestations", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    request_body = super::BundleBody,
    responses((status = 201, body = AttestationView), (status = 200, body = AttestationView, description = "already attached"),
              (status = 400, body = crate::api_error::ErrorBody, description = "invalid_bundle, invalid_signature or invalid_attestation")))]
pub async fn attach(
    State(state): State<AppState>,
    CanPublish { principal: p, .. }: CanPublish,
    Path((model, number)): Path<(String, String)>,
    body: Result<Json<super::BundleBody>, JsonRejection>,
) -> Result<(StatusCode, Json<AttestationView>), ApiError> {
    let Json(body) = body?;
    let (view, created) = state
        .registry
        .attach_attestation(
            &reference(&model, &number)?,
            &super::attachment_input(body, &p.caller)?,
            &p.name,
        )
        .await?;
    Ok(super::attached(created, view))
}

/// Attestations attached to a version, with whether the namespace trusts each signer.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/attestations", tag = "attestations", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    responses((status = 200, body = Vec<AttestationView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number)): Path<(String, String)>,
) -> JsonResult<Vec<AttestationView>> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    Ok(Json(state.registry.attestations(&row).await?))
}

/// One attestation bundle, byte for byte.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/attestations/{digest}", tag = "attestations", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path), ("digest" = String, Path)),
    responses((status = 200, content_type = "application/vnd.dev.sigstore.bundle.v0.3+json", body = Object),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn bundle(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number, digest)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    let digest = super::bundle_digest(&row, "attestation", &digest)?;
    let bytes = state.registry.attestation_bundle(&row, &digest).await?;
    let mut resp = bytes.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ATTESTATION_MEDIA_TYPE),
    );
    Ok(resp)
}

/// Known vulnerabilities of a version, from scanning its attached SBOMs
/// (`?resolved=true` includes findings that no longer match).
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/findings", tag = "vulnerabilities", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path), ("resolved" = Option<bool>, Query)),
    responses((status = 200, body = FindingsView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn findings(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> JsonResult<FindingsView> {
    let resolved = q.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "resolved=true" || kv == "resolved=1")
    });
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    Ok(Json(state.registry.findings(&row, resolved).await?))
}

/// OSV records to import.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnDbImportBody {
    /// Names the database the records come from (e.g. `osv-pypa`); records this
    /// source supplied before and no longer does are removed.
    pub source: String,
    /// OSV records (JSON objects, schema 1.x).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
}

/// Largest import body (the PyPI `all.zip` export is far smaller as JSON).
pub const VULNDB_LIMIT: usize = 512 << 20;

/// Import OSV records into the server's database (admin only). Every version
/// with an attached SBOM is re-scanned when something changed.
#[utoipa::path(post, path = "/api/v1/vulndb/import", tag = "vulnerabilities", security(("bearer" = [])),
    request_body = VulnDbImportBody,
    responses((status = 200, body = VulnDbImport), (status = 400, body = crate::api_error::ErrorBody),
              (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn vulndb_import(
    State(state): State<AppState>,
    IsAdmin { principal: p, .. }: IsAdmin,
    // The body (up to VULNDB_LIMIT) is read only once the caller is known to
    // be an admin: the extractor above runs before the body is read.
    req: axum::extract::Request,
) -> JsonResult<VulnDbImport> {
    let Json(body): Json<VulnDbImportBody> = Json::from_request(req, &state).await?;
    Ok(Json(
        state
            .registry
            .vulndb_import(&body.source, body.records, &p.name)
            .await?,
    ))
}

/// The server's OSV database: generation, record count, last update.
#[utoipa::path(get, path = "/api/v1/vulndb", tag = "vulnerabilities", security(("bearer" = [])),
    responses((status = 200, body = VulnDbStatus)))]
pub async fn vulndb_status(State(state): State<AppState>) -> JsonResult<VulnDbStatus> {
    Ok(Json(state.registry.vulndb_status().await?))
}
