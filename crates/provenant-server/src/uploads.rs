//! Resumable, streaming blob uploads.
//!
//! `POST /api/v1/uploads {digest, size}` opens a session (or answers that the
//! blob already exists); `PATCH /api/v1/uploads/{id}` with `Upload-Offset: N`
//! streams bytes from offset N; `GET` tells the offset to resume from after an
//! interruption. The blob is committed when the last byte arrives and hashes
//! to the declared digest; otherwise nothing becomes visible. Sessions live in
//! this server process and expire after an hour of inactivity.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use provenant_store::{Digest, Upload};
use tokio::sync::Mutex;

use crate::api_error::ApiError;
use crate::state::AppState;

pub const UPLOAD_OFFSET: &str = "upload-offset";
const IDLE_EXPIRY: Duration = Duration::from_secs(3600);

pub struct UploadSession {
    pub upload: Option<Upload>,
    pub digest: Digest,
    pub size: u64,
    pub offset: u64,
    pub last_active: Instant,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct NewUpload {
    /// Declared digest, `sha256:<hex>`.
    pub digest: String,
    /// Declared size in bytes.
    pub size: u64,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UploadStatus {
    /// Session id; absent when the blob already exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub digest: String,
    pub size: u64,
    /// Bytes received so far; resume from here.
    pub offset: u64,
    /// True once the blob is stored (already present, or fully uploaded and verified).
    pub complete: bool,
}

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse::<Digest>().map_err(ApiError::from)
}

/// Start an upload.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "blobs", request_body = NewUpload,
    responses((status = 201, body = UploadStatus, description = "session opened"),
              (status = 200, body = UploadStatus, description = "blob already stored (`complete`), or an unfinished session for it to resume from `offset`"),
              (status = 400, body = crate::api_error::ErrorBody),
              (status = 507, body = crate::api_error::ErrorBody, description = "the blob store's disk has no room for `size` bytes (`insufficient_storage`)")))]
pub async fn create(
    State(state): State<AppState>,
    body: Result<Json<NewUpload>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<UploadStatus>), ApiError> {
    let Json(req) = body?;
    let digest = parse_digest(&req.digest)?;
    match state.registry.blobs.size(&digest).await? {
        Some(size) if size == req.size => {
            return Ok((
                StatusCode::OK,
                Json(UploadStatus {
                    id: None,
                    digest: req.digest,
                    size,
                    offset: size,
                    complete: true,
                }),
            ));
        }
        Some(size) => {
            return Err(ApiError::bad_request(
                "size_mismatch",
                format!(
                    "blob {digest} is stored with {size} bytes, not the declared {}",
                    req.size
                ),
            ));
        }
        None => {}
    }
    // Resume an idle session for the same blob (e.g. after the client was interrupted).
    let existing: Vec<(String, Arc<Mutex<UploadSession>>)> = lock_map(&state)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, arc) in existing {
        if let Ok(s) = arc.try_lock()
            && s.digest == digest
            && s.size == req.size
            && s.upload.is_some()
        {
            return Ok((
                StatusCode::OK,
                Json(UploadStatus {
                    id: Some(id),
                    digest: req.digest,
                    size: s.size,
                    offset: s.offset,
                    complete: false,
                }),
            ));
        }
    }
    let upload = state.registry.blobs.begin_upload(digest, req.size).await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let session = UploadSession {
        upload: Some(upload),
        digest,
        size: req.size,
        offset: 0,
        last_active: Instant::now(),
    };
    lock_map(&state).insert(id.clone(), Arc::new(Mutex::new(session)));
    Ok((
        StatusCode::CREATED,
        Json(UploadStatus {
            id: Some(id),
            digest: digest.to_string(),
            size: req.size,
            offset: 0,
            complete: false,
        }),
    ))
}

fn lock_map(
    state: &AppState,
) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<Mutex<UploadSession>>>> {
    // A poisoned map only means another request panicked while holding the
    // guard; the map itself stays consistent (single inserts/removes).
    state
        .uploads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn session(state: &AppState, id: &str) -> Result<Arc<Mutex<UploadSession>>, ApiError> {
    lock_map(state).get(id).cloned().ok_or_else(|| {
        ApiError::not_found(
            "upload_not_found",
            format!("upload {id} not found (expired or finished)"),
        )
    })
}

/// Where an upload stands.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id")),
    responses((status = 200, body = UploadStatus), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    let s = session(&state, &id)?;
    let s = s.lock().await;
    Ok(Json(UploadStatus {
        id: Some(id),
        digest: s.digest.to_string(),
        size: s.size,
        offset: s.offset,
        complete: false,
    }))
}

/// Append bytes, starting at `Upload-Offset`.
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id"),
           ("Upload-Offset" = u64, Header, description = "offset of the first byte of the body")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = UploadStatus, description = "last byte received, digest verified, blob committed"),
              (status = 202, body = UploadStatus, description = "bytes appended"),
              (status = 400, body = crate::api_error::ErrorBody, description = "digest or size mismatch (session closed)"),
              (status = 409, body = crate::api_error::ErrorBody, description = "offset mismatch or session busy")))]
pub async fn append(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadStatus>), ApiError> {
    let at: u64 = headers
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_offset",
                "Upload-Offset header with a byte offset is required",
            )
        })?;
    let arc = session(&state, &id)?;
    let Ok(mut s) = arc.try_lock() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "upload_busy",
            format!("upload {id} is receiving another request"),
        ));
    };
    if at != s.offset {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            format!(
                "upload {id} is at byte {}, request starts at {at}",
                s.offset
            ),
        ));
    }
    let mut stream = body.into_data_stream();
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                // Client went away mid-body: keep what arrived; it can resume.
                failure = Some(ApiError::bad_request(
                    "body_interrupted",
                    format!("request body ended early: {e}"),
                ));
                break;
            }
        };
        let offset = s.offset;
        let upload = s
            .upload
            .as_mut()
            .ok_or_else(|| ApiError::internal("upload without writer"))?;
        if let Err(e) = upload.write(offset, chunk).await {
            let err = ApiError::from(e);
            if err.code != "offset_mismatch" {
                // More bytes than declared, or a failed write: the session
                // cannot succeed. Close it, so that a new one can start.
                if let Some(u) = s.upload.take() {
                    u.abort().await;
                }
                lock_map(&state).remove(&id);
            }
            return Err(err);
        }
        s.offset = upload.offset();
        s.last_active = Instant::now();
    }
    if s.offset < s.size || failure.is_some() {
        // More bytes are to come in another request: release what this one
        // held (a local upload's writer thread) meanwhile.
        let paused = match s.upload.as_mut() {
            Some(u) => u.pause().await,
            None => Ok(()),
        };
        if let Err(e) = paused {
            if let Some(u) = s.upload.take() {
                u.abort().await;
            }
            lock_map(&state).remove(&id);
            return Err(e.into());
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    if s.offset < s.size {
        return Ok((
            StatusCode::ACCEPTED,
            Json(UploadStatus {
                id: Some(id),
                digest: s.digest.to_string(),
                size: s.size,
                offset: s.offset,
                complete: false,
            }),
        ));
    }
    lock_map(&state).remove(&id);
    let upload = s
        .upload
        .take()
        .ok_or_else(|| ApiError::internal("upload without writer"))?;
    let digest = upload.finish().await?;
    tracing::debug!(%digest, size = s.size, "blob committed");
    Ok((
        StatusCode::CREATED,
        Json(UploadStatus {
            id: Some(id),
            digest: digest.to_string(),
            size: s.size,
            offset: s.size,
            complete: true,
        }),
    ))
}

/// Abandon an upload.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id")),
    responses((status = 204), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let arc = lock_map(&state)
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("upload_not_found", format!("upload {id} not found")))?;
    if let Some(u) = arc.lock().await.upload.take() {
        u.abort().await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Abort sessions idle for longer than an hour.
pub async fn reap_idle(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let stale: Vec<(String, Arc<Mutex<UploadSession>>)> = {
            let map = lock_map(&state);
            map.iter()
                .filter(|(_, s)| {
                    s.try_lock()
                        .is_ok_and(|s| s.last_active.elapsed() > IDLE_EXPIRY)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for (id, s) in stale {
            lock_map(&state).remove(&id);
            if let Some(u) = s.lock().await.upload.take() {
                u.abort().await;
            }
            tracing::info!(upload = %id, "expired idle upload");
        }
    }
}
