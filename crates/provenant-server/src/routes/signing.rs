use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provenant_api::{KeyBody, SignatureView, TrustedKeyView};
use provenant_registry::SIGNATURE_MEDIA_TYPE;

use super::{JsonResult, reference};
use crate::api_error::ApiError;
use crate::authz::{CanMaintain, CanPublish, CanRead};
use crate::state::AppState;

/// Attach an OMS signature. The server verifies it against the key or roots
/// sent along and checks that it covers exactly the version's files (SHA-256,
/// file mode); the verified signer is recorded.
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{number}/signatures", tag = "signatures", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    request_body = super::BundleBody,
    responses((status = 201, body = SignatureView), (status = 200, body = SignatureView, description = "already attached"),
              (status = 400, body = crate::api_error::ErrorBody, description = "invalid_bundle, invalid_signature, invalid_attestation or signature_mismatch")))]
pub async fn attach(
    State(state): State<AppState>,
    CanPublish { principal: p, .. }: CanPublish,
    Path((model, number)): Path<(String, String)>,
    body: Result<Json<super::BundleBody>, JsonRejection>,
) -> Result<(StatusCode, Json<SignatureView>), ApiError> {
    let Json(body) = body?;
    let (view, created) = state
        .registry
        .attach_signature(
            &reference(&model, &number)?,
            &super::attachment_input(body, &p.caller)?,
            &p.name,
        )
        .await?;
    Ok(super::attached(created, view))
}

/// Signatures attached to a version, with whether the namespace trusts each signer.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/signatures", tag = "signatures", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    responses((status = 200, body = Vec<SignatureView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number)): Path<(String, String)>,
) -> JsonResult<Vec<SignatureView>> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    Ok(Json(state.registry.signatures(&row).await?))
}

/// One signature bundle, byte for byte as attached — plus, once the
/// attachment is in the transparency log, a `verificationMaterial.tlogEntries`
/// entry (inclusion proof and checkpoint) so that it verifies offline.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/signatures/{digest}", tag = "signatures", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path), ("digest" = String, Path)),
    responses((status = 200, content_type = "application/vnd.dev.sigstore.bundle.v0.3+json", body = Object),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn bundle(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number, digest)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    let digest = super::bundle_digest(&row, "signature", &digest)?;
    let bytes = state.registry.signature_bundle(&row, &digest).await?;
    let bytes = super::log::with_tlog_entry(&state, &row, &digest, bytes).await?;
    let mut resp = bytes.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SIGNATURE_MEDIA_TYPE),
    );
    Ok(resp)
}

/// Keys a namespace trusts for signatures (`?history=true` adds removed ones).
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/keys", tag = "signatures", security(("bearer" = [])),
    params(("namespace" = String, Path, description = "URL-encoded namespace"), ("history" = Option<bool>, Query)),
    responses((status = 200, body = Vec<TrustedKeyView>)))]
pub async fn keys(
    State(state): State<AppState>,
    _: CanRead,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
) -> JsonResult<Vec<TrustedKeyView>> {
    let history = q.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "history=true" || kv == "history=1")
    });
    Ok(Json(state.registry.trusted_keys(&ns, history).await?))
}

/// Trust a key in a namespace (recorded with who and when).
#[utoipa::path(post, path = "/api/v1/namespaces/{namespace}/keys", tag = "signatures", security(("bearer" = [])),
    params(("namespace" = String, Path, description = "URL-encoded namespace")),
    request_body = KeyBody,
    responses((status = 201, body = TrustedKeyView), (status = 200, body = TrustedKeyView, description = "already trusted"),
              (status = 400, body = crate::api_error::ErrorBody)))]
pub async fn add_key(
    State(state): State<AppState>,
    CanMaintain { principal: p, .. }: CanMaintain,
    Path(ns): Path<String>,
    body: Result<Json<KeyBody>, JsonRejection>,
) -> Result<(StatusCode, Json<TrustedKeyView>), ApiError> {
    let Json(body) = body?;
    let (view, created) = state
        .registry
        .trusted_key_add(&ns, &body.public_key, &body.comment, &p.name)
        .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(view),
    ))
}

/// Stop trusting a key (kept as history).
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/keys/{fingerprint}", tag = "signatures", security(("bearer" = [])),
    params(("namespace" = String, Path, description = "URL-encoded namespace"), ("fingerprint" = String, Path)),
    responses((status = 204), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn remove_key(
    State(state): State<AppState>,
    CanMaintain { principal: p, .. }: CanMaintain,
    Path((ns, fingerprint)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .registry
        .trusted_key_remove(&ns, &fingerprint, &p.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
