use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use provenant_api::{
    LabelsBody, PageOf, PublishBody, Published, ReasonBody, VersionState, VersionView,
};
use provenant_registry::{Page, PublishRequest, Reference, VersionRow};

use super::{JsonResult, ListParams, reference};
use crate::api_error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::authz::{Authenticated, CanMaintain, CanPublish, CanRead};
use crate::state::AppState;

async fn page(state: &AppState, page: Page<VersionRow>) -> Result<VersionPage, ApiError> {
    let ids = page.items.iter().map(|r| r.id).collect();
    let items = state.registry.views(page.items).await?;
    Ok(VersionPage {
        items,
        ids,
        next: page.next,
        budget: state.limits.page_bytes,
    })
}

/// A page of versions as JSON (the shape of [`PageOf`]), written into a
/// buffer sized for it up front (axum's `Json` starts at 128 bytes and
/// doubles its way to a page's tens of kilobytes, copying each time), and
/// ended early, with a cursor to the rest, once it reaches `budget` bytes.
pub struct VersionPage {
    items: Vec<VersionView>,
    /// The row id of each item: the cursor to the rows after it.
    ids: Vec<i64>,
    /// The cursor after the last item, if rows follow it.
    next: Option<i64>,
    budget: usize,
}

/// About what one listed version takes as JSON, metadata aside.
const VIEW_JSON_BYTES: usize = 512;

/// Room kept for `],"next_cursor":"<i64>"}`.
const PAGE_TAIL_BYTES: usize = 48;

impl VersionPage {
    fn write(self) -> Result<Vec<u8>, serde_json::Error> {
        let hint = 64
            + self
                .items
                .iter()
                .map(|v| VIEW_JSON_BYTES + v.metadata.json_len())
                .sum::<usize>();
        let mut buf = Vec::with_capacity(hint.min(self.budget.saturating_add(VIEW_JSON_BYTES)));
        let mut next = self.next;
        buf.extend_from_slice(b"{\"items\":[");
        for (i, item) in self.items.iter().enumerate() {
            let mark = buf.len();
            if i > 0 {
                buf.push(b',');
            }
            serde_json::to_writer(&mut buf, item)?;
            // The first version goes out whatever its size: a page makes progress.
            if i > 0 && buf.len() + PAGE_TAIL_BYTES > self.budget {
                buf.truncate(mark);
                next = self.ids.get(i - 1).copied();
                break;
            }
        }
        buf.push(b']');
        if let Some(n) = next {
            buf.extend_from_slice(b",\"next_cursor\":");
            serde_json::to_writer(&mut buf, &n.to_string())?;
        }
        buf.push(b'}');
        Ok(buf)
    }
}

impl IntoResponse for VersionPage {
    fn into_response(self) -> Response {
        match self.write() {
            Ok(buf) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                buf,
            )
                .into_response(),
            Err(e) => {
                ApiError::internal(format!("serialising a page of versions: {e}")).into_response()
            }
        }
    }
}

/// Publish a version (idempotent: identical content returns the existing version with 200).
#[utoipa::path(post, path = "/api/v1/models/{model}/versions", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`")),
    request_body = PublishBody,
    responses((status = 201, body = Published, description = "created"),
              (status = 200, body = Published, description = "identical version already exists"),
              (status = 400, body = crate::api_error::ErrorBody),
              (status = 422, body = crate::api_error::ErrorBody, description = "a file's blob is missing or its size differs")))]
pub async fn publish(
    State(state): State<AppState>,
    CanPublish { principal: p, .. }: CanPublish,
    request: crate::authz::RequestInfo,
    Path(model): Path<String>,
    body: Result<Json<PublishBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    let Json(body) = body?;
    // Naming a blob is not holding it: each file must be content the
    // caller uploaded or may read already (a digest seen elsewhere would
    // otherwise let it read another namespace's file through its own).
    for f in &body.files {
        let Ok(digest) = f.digest.parse::<provenant_digest::Digest>() else {
            continue; // the registry answers invalid_digest, naming the path
        };
        if state.registry.blobs().size(&digest).await?.is_some()
            && !state.registry.may_use_blob(&p.caller, &digest).await?
        {
            let reason = format!(
                "file {}: blob {digest} is held only by namespaces {} may not read; upload its content first",
                f.path, p.name
            );
            crate::authz::deny(&state, &request, &p, &reason).await;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                reason,
            ));
        }
    }
    let caller = p.caller.clone();
    let published = state
        .registry
        .publish(PublishRequest {
            model,
            files: body.files,
            metadata: body.metadata,
            labels: body.labels,
            created_by: p.name,
            attachments: body
                .attachments
                .into_iter()
                .map(|b| super::attachment_input(b, &caller))
                .collect::<Result<_, _>>()?,
            require_trusted: body.require_trusted,
            gate: state.ingest_gate(),
        })
        .await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(published)))
}

/// A model's versions, newest first, filtered by label, state or text.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"),
           ("label" = Option<Vec<String>>, Query, description = "key=value, repeatable (all must match)"),
           ("state" = Option<String>, Query, description = "active, deprecated or archived"),
           ("q" = Option<String>, Query, description = "full-text query"),
           ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = PageOf<VersionView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn list_model_versions(
    State(state): State<AppState>,
    _: CanRead,
    Path(model): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<VersionPage, ApiError> {
    let p = ListParams::parse(q.as_deref())?;
    let rows = state
        .registry
        .versions(&p.version_query(Some(&model))?)
        .await?;
    page(&state, rows).await
}

/// Versions across all models, newest first, filtered by label, state or text.
#[utoipa::path(get, path = "/api/v1/versions", tag = "versions", security(("bearer" = [])),
    params(("label" = Option<Vec<String>>, Query, description = "key=value, repeatable (all must match)"),
           ("state" = Option<String>, Query), ("q" = Option<String>, Query, description = "full-text query"),
           ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = PageOf<VersionView>)))]
pub async fn list_versions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RawQuery(q): RawQuery,
) -> Result<VersionPage, ApiError> {
    let p = ListParams::parse(q.as_deref())?;
    let mut query = p.version_query(None)?;
    query.only = caller.caller.visibility().names().map(<[String]>::to_vec);
    let rows = state.registry.versions(&query).await?;
    page(&state, rows).await
}

/// Full-text search over model names, descriptions, metadata and labels (prefix match per word).
#[utoipa::path(get, path = "/api/v1/search", tag = "versions", security(("bearer" = [])),
    params(("q" = Option<String>, Query, description = "words; every word must match (as a prefix)"),
           ("label" = Option<Vec<String>>, Query, description = "key=value, repeatable"),
           ("state" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = PageOf<VersionView>)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Authenticated,
    raw: RawQuery,
) -> Result<VersionPage, ApiError> {
    list_versions(State(state), caller, raw).await
}

/// Resolve `ns/name:7`, `ns/name@sha256:…`, `ns/name#alias` or `ns/name` (latest).
#[utoipa::path(get, path = "/api/v1/resolve", tag = "versions", security(("bearer" = [])),
    params(("ref" = String, Query, description = "a version reference")),
    responses((status = 200, body = VersionView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: crate::authz::RequestInfo,
    RawQuery(q): RawQuery,
) -> JsonResult<VersionView> {
    let p = ListParams::parse(q.as_deref())?;
    let r = p.reference.ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidReference,
            "query parameter ref is required",
        )
    })?;
    let reference = Reference::parse(&r)?;
    crate::authz::require_read(&state, &caller, &request, &reference.model.namespace).await?;
    let row = state.registry.resolve(&reference).await?;
    Ok(Json(state.registry.view(&row, true).await?))
}

/// One version, with its files.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    responses((status = 200, body = VersionView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn get_version(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number)): Path<(String, String)>,
) -> JsonResult<VersionView> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    Ok(Json(state.registry.view(&row, true).await?))
}

/// The version's OCI image manifest (ModelPack media types), byte for byte.
#[utoipa::path(get, path = "/api/v1/models/{model}/versions/{number}/manifest", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.oci.image.manifest.v1+json", body = Object),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn get_manifest(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let row = state.registry.resolve(&reference(&model, &number)?).await?;
    let mut resp = row.manifest.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json"),
    );
    if let Ok(v) = HeaderValue::from_str(&row.digest.to_string()) {
        h.insert("docker-content-digest", v);
    }
    Ok(resp)
}

/// Set or remove labels.
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{number}/labels", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    request_body = LabelsBody,
    responses((status = 200, body = VersionView), (status = 400, body = crate::api_error::ErrorBody),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn set_labels(
    State(state): State<AppState>,
    CanPublish { principal: p, .. }: CanPublish,
    Path((model, number)): Path<(String, String)>,
    body: Result<Json<LabelsBody>, JsonRejection>,
) -> JsonResult<VersionView> {
    let Json(body) = body?;
    let view = state
        .registry
        .set_labels(
            &reference(&model, &number)?,
            &body.set,
            &body.remove,
            &p.name,
        )
        .await?;
    Ok(Json(view))
}

async fn change_state(
    state: AppState,
    p: Principal,
    model: String,
    number: String,
    body: Result<Json<ReasonBody>, JsonRejection>,
    to: VersionState,
) -> JsonResult<VersionView> {
    let Json(body) = body?;
    let view = state
        .registry
        .change_state(&reference(&model, &number)?, to, &body.reason, &p.name)
        .await?;
    Ok(Json(view))
}

/// Deprecate an active version (a reason is required).
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{number}/deprecate", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    request_body = ReasonBody,
    responses((status = 200, body = VersionView), (status = 400, body = crate::api_error::ErrorBody),
              (status = 409, body = crate::api_error::ErrorBody, description = "not active")))]
pub async fn deprecate(
    State(state): State<AppState>,
    CanMaintain { principal: p, .. }: CanMaintain,
    Path((model, number)): Path<(String, String)>,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> JsonResult<VersionView> {
    change_state(state, p, model, number, body, VersionState::Deprecated).await
}

/// Archive an active or deprecated version (a reason is required).
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{number}/archive", tag = "versions", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("number" = i64, Path)),
    request_body = ReasonBody,
    responses((status = 200, body = VersionView), (status = 400, body = crate::api_error::ErrorBody),
              (status = 409, body = crate::api_error::ErrorBody, description = "already archived")))]
pub async fn archive(
    State(state): State<AppState>,
    CanMaintain { principal: p, .. }: CanMaintain,
    Path((model, number)): Path<(String, String)>,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> JsonResult<VersionView> {
    change_state(state, p, model, number, body, VersionState::Archived).await
}
