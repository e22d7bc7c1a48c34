//! Transparency log over HTTP: the C2SP tlog-tiles static API under `/log/`
//! (checkpoint, hash tiles, entry bundles), the verifier key, and JSON proof
//! endpoints under `/api/v1/log/`. All read-only and unauthenticated, except
//! the admin audit endpoints.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use provenant_api::{AuditRecordView, ConsistencyView, EntryView, InclusionView, LogEventView};
use provenant_registry::{AuditRecord, LogEventRow};
use provenant_tlog::{Hash, TileId};

use super::JsonResult;
use crate::api_error::{ApiError, ErrorCode};
use crate::authz::{Authenticated, CanAudit};
use crate::state::AppState;

const TEXT: &str = "text/plain; charset=utf-8";

/// The latest signed checkpoint (with witness cosignatures when witnesses
/// are configured and have cosigned), C2SP tlog-checkpoint.
#[utoipa::path(get, path = "/log/checkpoint", tag = "log",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let head = state.log.head(false).await?;
    let note = head.cosigned.unwrap_or(head.checkpoint);
    Ok((
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response())
}

/// The log's signed-note verifier key string (`name+hex(keyid)+base64(0x01‖key)`).
#[utoipa::path(get, path = "/log/key", tag = "log",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn key(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT)],
        format!("{}\n", state.log.vkey()),
    )
        .into_response()
}

/// A hash tile `tile/<L>/<N>[.p/<W>]` or entry bundle
/// `tile/entries/<N>[.p/<W>]`, C2SP tlog-tiles. Full tiles are immutable.
#[utoipa::path(get, path = "/log/tile/{path}", tag = "log",
    params(("path" = String, Path, description = "e.g. `0/x001/234` or `entries/000.p/7`")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 400, body = crate::api_error::ErrorBody), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let id = TileId::parse(&format!("tile/{path}"))
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidTilePath, e.to_string()))?;
    // The router matches the raw path and decodes `{*path}` afterwards:
    // `/log/tile/%65ntries/000` reaches this public route yet names an
    // entry bundle. Bundles are served by `entry_tile` only.
    if id.kind == provenant_tlog::TileKind::Entries {
        return Err(ApiError::not_found(
            ErrorCode::RouteNotFound,
            "entry bundles are served at /log/tile/entries/…, to auditors and admins",
        ));
    }
    serve_tile(&state, &format!("tile/{path}")).await
}

/// `tile/entries/<N>[.p/<W>]`: entry bundles name models, labels and
/// people, so they are served to auditors and admins only (hash tiles,
/// checkpoints and proofs stay public).
#[utoipa::path(get, path = "/log/tile/entries/{path}", tag = "log", security(("bearer" = [])),
    params(("path" = String, Path, description = "e.g. `000.p/7`")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 403, body = crate::api_error::ErrorBody), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn entry_tile(
    State(state): State<AppState>,
    _: CanAudit,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    serve_tile(&state, &format!("tile/entries/{path}")).await
}

async fn serve_tile(state: &AppState, path: &str) -> Result<Response, ApiError> {
    let id = TileId::parse(path)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidTilePath, e.to_string()))?;
    let data = state.log.tile(id).await?;
    let cache = if id.is_full() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        data.to_vec(),
    )
        .into_response())
}

fn entry_view(e: LogEventRow) -> Result<EntryView, ApiError> {
    Ok(EntryView {
        index: e
            .log_index
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| {
                ApiError::not_found(ErrorCode::LogEntryNotFound, "entry is not sequenced yet")
            })?,
        entry: e.entry,
        leaf_hash: e.leaf_hash.unwrap_or_default(),
        kind: e.kind,
        source: e.source,
        source_id: e.source_id,
    })
}

/// One log entry by index.
#[utoipa::path(get, path = "/api/v1/log/entries/{index}", tag = "log", security(("bearer" = [])),
    params(("index" = u64, Path)),
    responses((status = 200, body = EntryView), (status = 403, body = crate::api_error::ErrorBody),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn entry(
    State(state): State<AppState>,
    _: CanAudit,
    Path(index): Path<String>,
) -> JsonResult<EntryView> {
    let index: u64 = index.parse().map_err(|_| {
        ApiError::bad_request(
            ErrorCode::InvalidIndex,
            format!("log index {index:?} is not a number"),
        )
    })?;
    let head = state.log.head(false).await?;
    let e = state
        .registry
        .log_event_by_index(index)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::LogEntryNotFound,
                format!("no log entry {index} (tree size {})", head.size),
            )
        })?;
    Ok(Json(entry_view(e)?))
}

fn query_map(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn num(q: &std::collections::HashMap<String, String>, k: &str) -> Result<Option<u64>, ApiError> {
    q.get(k)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("{k}={v:?} is not a number"),
                )
            })
        })
        .transpose()
}

/// Inclusion proof of an entry, by `index` or by leaf `hash` (hex), in the
/// tree of `size` (default: the latest checkpoint).
#[utoipa::path(get, path = "/api/v1/log/proof/inclusion", tag = "log",
    params(("index" = Option<u64>, Query), ("hash" = Option<String>, Query), ("size" = Option<u64>, Query)),
    responses((status = 200, body = InclusionView), (status = 400, body = crate::api_error::ErrorBody),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn inclusion(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> JsonResult<InclusionView> {
    let q = query_map(raw.as_deref());
    let (index, leaf) = match (num(&q, "index")?, q.get("hash")) {
        (Some(i), None) => (i, None),
        (None, Some(h)) => {
            let h = Hash::from_hex(h).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidHash,
                    format!("hash {h:?} is not 64 hex digits"),
                )
            })?;
            let e = state
                .registry
                .log_event_by_leaf_hash(&h)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(
                        ErrorCode::LogEntryNotFound,
                        format!("no entry with leaf hash {h}"),
                    )
                })?;
            let i = entry_view(e)?.index;
            (i, Some(h))
        }
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "give exactly one of index or hash",
            ));
        }
    };
    let (size, proof) = state.log.inclusion(index, num(&q, "size")?).await?;
    let head = state.log.head(false).await?;
    let leaf = match leaf {
        Some(h) => h.to_hex(),
        None => state
            .registry
            .log_event_by_index(index)
            .await?
            .and_then(|e| e.leaf_hash)
            .unwrap_or_default(),
    };
    Ok(Json(InclusionView {
        index,
        tree_size: size,
        leaf_hash: leaf,
        hashes: proof.iter().map(Hash::to_base64).collect(),
        checkpoint: (head.size == size).then_some(head.checkpoint),
    }))
}

/// Consistency proof between tree sizes `old` and `new` (default: latest).
#[utoipa::path(get, path = "/api/v1/log/proof/consistency", tag = "log",
    params(("old" = u64, Query), ("new" = Option<u64>, Query)),
    responses((status = 200, body = ConsistencyView), (status = 400, body = crate::api_error::ErrorBody),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn consistency(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> JsonResult<ConsistencyView> {
    let q = query_map(raw.as_deref());
    let old = num(&q, "old")?
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidQuery, "old=<size> is required"))?;
    let new = match num(&q, "new")? {
        Some(n) => n,
        None => state.log.head(false).await?.size,
    };
    let proof = state.log.consistency(old, new).await?;
    Ok(Json(ConsistencyView {
        old_size: old,
        new_size: new,
        hashes: proof.iter().map(Hash::to_base64).collect(),
    }))
}

/// Log entries recording one version (publish, attachments, labels, state).
#[utoipa::path(get, path = "/api/v1/log/versions", tag = "log", security(("bearer" = [])),
    params(("ref" = String, Query, description = "version reference")),
    responses((status = 200, body = Vec<LogEventView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn version_entries(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    request: crate::authz::RequestInfo,
    RawQuery(raw): RawQuery,
) -> JsonResult<Vec<LogEventView>> {
    let q = query_map(raw.as_deref());
    let r = q.get("ref").ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidQuery, "ref=<reference> is required")
    })?;
    let reference = provenant_registry::Reference::parse(r)?;
    crate::authz::require_read(&state, &p, &request, &reference.model.namespace).await?;
    let row = state.registry.resolve(&reference).await?;
    let events = state.registry.log_events_of_version(&row).await?;
    Ok(Json(events.into_iter().map(log_event_view).collect()))
}

/// A recorded state change as the API shows it.
fn log_event_view(e: LogEventRow) -> LogEventView {
    LogEventView {
        id: e.id,
        kind: e.kind,
        source: e.source,
        source_id: e.source_id,
        entry: e.entry,
        created_at: e.created_at,
        log_index: e.log_index,
        leaf_hash: e.leaf_hash,
    }
}

/// What a logged row says, as the API shows it.
fn audit_record_view(r: AuditRecord) -> AuditRecordView {
    AuditRecordView {
        source: r.source,
        source_id: r.source_id,
        kind: r.kind,
        target: r.target,
        who: r.who,
        details: r.details,
        log_index: r.log_index,
    }
}

/// What every logged registry row says and its log index (admin), for
/// `provenant audit verify` to cross-check against the log.
#[utoipa::path(get, path = "/api/v1/admin/log/records", tag = "log", security(("bearer" = [])),
    responses((status = 200, body = Vec<AuditRecordView>), (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn audit_records(
    State(state): State<AppState>,
    _: CanAudit,
) -> JsonResult<Vec<AuditRecordView>> {
    let records = state.registry.audit_records().await?;
    Ok(Json(records.into_iter().map(audit_record_view).collect()))
}

/// The audit trail (admin): events created at or after `since` (Unix ms),
/// after outbox id `after`, at most `limit` (1-10000).
#[utoipa::path(get, path = "/api/v1/admin/log/events", tag = "log", security(("bearer" = [])),
    params(("since" = Option<i64>, Query), ("after" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = Vec<LogEventView>), (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn audit_events(
    State(state): State<AppState>,
    _: CanAudit,
    RawQuery(raw): RawQuery,
) -> JsonResult<Vec<LogEventView>> {
    let (since, after, limit) = since_after_limit(raw.as_deref())?;
    let events = state.registry.log_events_since(since, after, limit).await?;
    Ok(Json(events.into_iter().map(log_event_view).collect()))
}

/// `since` (Unix ms, default 0), `after` (an id, default 0) and `limit`
/// (1 to 10000, default 1000) of the audit listings.
pub fn since_after_limit(raw: Option<&str>) -> Result<(i64, i64, i64), ApiError> {
    let q = query_map(raw);
    for k in q.keys() {
        if !matches!(k.as_str(), "since" | "after" | "limit") {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("unknown query parameter {k:?}: since, after, limit"),
            ));
        }
    }
    let int = |k: &str, d: i64| -> Result<i64, ApiError> {
        q.get(k).map_or(Ok(d), |v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("{k}={v:?} is not a number"),
                )
            })
        })
    };
    Ok((
        int("since", 0)?,
        int("after", 0)?,
        int("limit", 1000)?.clamp(1, 10_000),
    ))
}

/// Adds the attachment's log entry (inclusion proof, checkpoint, entry) to a
/// Sigstore bundle's `verificationMaterial.tlogEntries`, when the attachment
/// is sequenced; otherwise returns the bundle unchanged.
pub async fn with_tlog_entry(
    state: &AppState,
    row: &provenant_registry::VersionRow,
    digest: &provenant_digest::Digest,
    bundle: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(event) = state.registry.signature_log_event(row, digest).await? else {
        return Ok(bundle);
    };
    let Some(index) = event.log_index.and_then(|i| u64::try_from(i).ok()) else {
        return Ok(bundle);
    };
    let head = state.log.head(true).await?;
    if index >= head.size {
        return Ok(bundle);
    }
    let (size, proof) = state.log.inclusion(index, Some(head.size)).await?;
    let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&bundle) else {
        return Ok(bundle);
    };
    let vkey = state.log.vkey();
    let key_id = {
        use sha2::Digest as _;
        let raw = vkey
            .rsplit('+')
            .next()
            .and_then(|k| b64.decode(k).ok())
            .unwrap_or_default();
        b64.encode(sha2::Sha256::digest(raw.get(1..).unwrap_or_default()))
    };
    let entry = serde_json::json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": key_id},
        "kindVersion": {"kind": "provenant-log-entry", "version": "1"},
        "integratedTime": (event.created_at / 1000).to_string(),
        "inclusionProof": {
            "logIndex": index.to_string(),
            "rootHash": head.root.to_base64(),
            "treeSize": size.to_string(),
            "hashes": proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
            "checkpoint": {"envelope": head.checkpoint},
        },
        "canonicalizedBody": b64.encode(event.entry.as_bytes()),
    });
    let Some(vm) = doc
        .get_mut("verificationMaterial")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return Ok(bundle);
    };
    let entries = vm
        .entry("tlogEntries")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let Some(list) = entries.as_array_mut() {
        list.push(entry);
    }
    serde_json::to_vec(&doc).map_err(ApiError::internal)
}
