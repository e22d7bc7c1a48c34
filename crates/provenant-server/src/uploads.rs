//! Resumable, streaming blob uploads.
//!
//! `POST /api/v1/uploads {digest, size}` opens a session (or answers that the
//! blob already exists); `PATCH /api/v1/uploads/{id}` with `Upload-Offset: N`
//! streams bytes from offset N; `GET` tells the offset to resume from after an
//! interruption. The blob is committed when the last byte arrives and hashes
//! to the declared digest; otherwise nothing becomes visible. Sessions live in
//! this server process and expire after an hour of inactivity (by default).
//!
//! A client that would read a large file twice (once to hash it, once to send
//! it) may instead open a session with the size alone (`{size}`), send the
//! bytes once and declare at the end, `PUT /api/v1/uploads/{id}`, the digest
//! or the CRC-64/NVME checksum of what it sent; the server commits the blob
//! under the digest of the bytes it received, and answers it. Whether that
//! spares work depends on the server not holding the blob already:
//! `POST /api/v1/uploads/plan {sizes}` tells which sizes it holds blobs of
//! (equal content has equal size) and which undeclared sessions of those
//! sizes are open to resume.
//!
//! Budgets: a token holds at most [`Limits::upload_sessions_per_token`]
//! sessions declaring at most [`Limits::upload_bytes_per_token`] bytes in all;
//! a `PATCH` whose body delivers less than `body_min_bytes` per `body_timeout`
//! closes its session (`upload_stalled`); a session idle for
//! `upload_idle_timeout` is closed by a reaper that never waits on a
//! session's lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use provenant_api::{CommitUpload, NewUpload, UploadPlan, UploadPlanRequest, UploadStatus};
use provenant_digest::Digest;
use provenant_registry::{Declaration, StoreError, Upload};
use tokio::sync::Mutex;

use crate::api_error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::server::Limits;
use crate::state::AppState;

pub const UPLOAD_OFFSET: &str = "upload-offset";

/// An open session as the map holds it: what the budgets and the reaper read
/// without waiting on the session's lock, and the session behind it.
pub struct UploadSlot {
    /// The token that opened the session (its budget pays for it).
    opened_by: i64,
    /// Declared size: what the session reserves.
    size: u64,
    /// When bytes last arrived (or the session opened).
    last_progress: std::sync::Mutex<Instant>,
    /// Set when the session is closed from outside (the reaper): whoever
    /// holds the lock then aborts the upload instead of going on.
    closed: AtomicBool,
    pub session: Mutex<UploadSession>,
}

impl UploadSlot {
    fn new(session: UploadSession, opened_by: i64) -> Self {
        Self {
            opened_by,
            size: session.size,
            last_progress: std::sync::Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            session: Mutex::new(session),
        }
    }

    /// Aborts the session's upload if nobody holds its lock (a holder
    /// aborts it itself when it sees the session closed).
    async fn abort_if_free(&self) {
        let upload = self
            .session
            .try_lock()
            .ok()
            .and_then(|mut s| s.upload.take());
        if let Some(u) = upload {
            u.abort().await;
        }
    }

    fn touch(&self) {
        *self
            .last_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .elapsed()
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

pub struct UploadSession {
    pub upload: Option<Upload>,
    /// Declared when the session opened; `None` until the commit declares it.
    pub digest: Option<Digest>,
    /// The token that opened an undeclared session (nothing but a checksum
    /// vouches for its bytes). Every session, declared or not, is seen,
    /// written, committed and cancelled only by the token that opened it
    /// ([`UploadSlot::opened_by`]): one who merely knows a digest cannot
    /// stall, corrupt or cancel another's upload of it.
    pub owner: Option<i64>,
    pub size: u64,
    pub offset: u64,
}

/// A session as the API shows it.
fn upload_status(id: &str, s: &UploadSession) -> UploadStatus {
    UploadStatus {
        id: Some(id.to_owned()),
        digest: s.digest,
        size: s.size,
        offset: s.offset,
        received_digest: match (&s.digest, &s.upload) {
            (None, Some(u)) => Some(u.received_digest()),
            _ => None,
        },
        complete: false,
    }
}

const MAX_PLAN_SIZES: usize = 10_000;

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse::<Digest>().map_err(ApiError::from)
}

/// Start an upload.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "blobs", request_body = NewUpload,
    responses((status = 201, body = UploadStatus, description = "session opened"),
              (status = 200, body = UploadStatus, description = "blob already stored (`complete`), or an unfinished session for it to resume from `offset`"),
              (status = 400, body = crate::api_error::ErrorBody, description = "a malformed digest, a size that differs from the stored blob's, or no digest for a cloud blob store (`digest_required`)"),
              (status = 429, body = crate::api_error::ErrorBody, description = "the token holds as many sessions, or reserves as many bytes, as it may (`upload_limit`)"),
              (status = 507, body = crate::api_error::ErrorBody, description = "the blob store's disk has no room for `size` bytes (`insufficient_storage`)")))]
pub async fn create(
    State(state): State<AppState>,
    crate::authz::CanUpload {
        principal: caller, ..
    }: crate::authz::CanUpload,
    body: Result<Json<NewUpload>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<UploadStatus>), ApiError> {
    let Json(req) = body?;
    let Some(declared) = req.digest.as_deref() else {
        // Sessions are counted before the store stages anything; bytes once it
        // has (a size beyond the disk is `insufficient_storage` first).
        within_budget(&lock_map(&state), &state.limits, caller.token_id, 0)?;
        let upload = state
            .registry
            .blobs()
            .begin_undeclared_upload(req.size)
            .await?;
        return open(&state, upload, None, &caller, req.size).await;
    };
    let digest = parse_digest(declared)?;
    // A blob the caller may not use (held only by namespaces it cannot
    // read, and not uploaded by it) is treated as absent: the caller proves
    // it has the content by sending it, and learns nothing of what is held.
    let held = match state.registry.blobs().size(&digest).await? {
        Some(size) if state.registry.may_use_blob(&caller.caller, &digest).await? => Some(size),
        _ => None,
    };
    match held {
        Some(size) if size == req.size => {
            return Ok((
                StatusCode::OK,
                Json(UploadStatus {
                    id: None,
                    digest: Some(digest),
                    size,
                    offset: size,
                    received_digest: None,
                    complete: true,
                }),
            ));
        }
        Some(size) => {
            return Err(ApiError::bad_request(
                ErrorCode::SizeMismatch,
                format!(
                    "blob {digest} is stored with {size} bytes, not the declared {}",
                    req.size
                ),
            ));
        }
        None => {}
    }
    // Resume the caller's own idle session for the same blob (e.g. after the
    // client was interrupted); another token's session is not offered.
    let existing: Vec<(String, Arc<UploadSlot>)> = lock_map(&state)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, slot) in existing {
        if let Ok(s) = slot.session.try_lock()
            && !slot.is_closed()
            && slot.opened_by == caller.token_id
            && s.digest == Some(digest)
            && s.size == req.size
            && s.upload.is_some()
        {
            return Ok((StatusCode::OK, Json(upload_status(&id, &s))));
        }
    }
    within_budget(&lock_map(&state), &state.limits, caller.token_id, 0)?;
    let upload = state
        .registry
        .blobs()
        .begin_upload(digest, req.size)
        .await?;
    open(&state, upload, Some(digest), &caller, req.size).await
}

/// Whether `token` may open one more session of `size` bytes.
fn within_budget(
    map: &std::collections::HashMap<String, Arc<UploadSlot>>,
    limits: &Limits,
    token: i64,
    size: u64,
) -> Result<(), ApiError> {
    let (mut sessions, mut reserved) = (0usize, 0u64);
    for slot in map.values().filter(|s| s.opened_by == token) {
        sessions += 1;
        reserved = reserved.saturating_add(slot.size);
    }
    let refuse =
        |why: String| ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::UploadLimit, why);
    if sessions >= limits.upload_sessions_per_token {
        return Err(refuse(format!(
            "this token has {sessions} upload sessions open, the most it may; \
             finish or cancel one (DELETE /api/v1/uploads/{{id}}) first"
        )));
    }
    if reserved.saturating_add(size) > limits.upload_bytes_per_token {
        return Err(refuse(format!(
            "a session of {size} bytes would take this token's open sessions to {} bytes, \
             over its budget of {} bytes; finish or cancel one first",
            reserved.saturating_add(size),
            limits.upload_bytes_per_token
        )));
    }
    Ok(())
}

/// Put a new session in the map, if the caller's budget still has room (the
/// check before the upload began raced with the caller's other requests).
async fn open(
    state: &AppState,
    upload: Upload,
    digest: Option<Digest>,
    caller: &Principal,
    size: u64,
) -> Result<(StatusCode, Json<UploadStatus>), ApiError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let session = UploadSession {
        upload: Some(upload),
        digest,
        // An undeclared session is only its opener's.
        owner: digest.is_none().then_some(caller.token_id),
        size,
        offset: 0,
    };
    let status = upload_status(&id, &session);
    let slot = Arc::new(UploadSlot::new(session, caller.token_id));
    let admitted = {
        let mut map = lock_map(state);
        within_budget(&map, &state.limits, caller.token_id, size)
            .map(|()| map.insert(id.clone(), slot.clone()))
    };
    if let Err(e) = admitted {
        // Never in the map: nobody else can hold its lock.
        slot.abort_if_free().await;
        return Err(e);
    }
    Ok((StatusCode::CREATED, Json(status)))
}

/// Plan a push: which file sizes the store holds blobs of, and which of the
/// caller's undeclared sessions of those sizes wait to be resumed (idle, with
/// bytes received).
#[utoipa::path(post, path = "/api/v1/uploads/plan", tag = "blobs", request_body = UploadPlanRequest,
    responses((status = 200, body = UploadPlan),
              (status = 400, body = crate::api_error::ErrorBody, description = "more than 10,000 sizes (`too_many_sizes`)")))]
pub async fn plan(
    State(state): State<AppState>,
    crate::authz::CanUpload {
        principal: caller, ..
    }: crate::authz::CanUpload,
    body: Result<Json<UploadPlanRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<UploadPlan>, ApiError> {
    let Json(req) = body?;
    if req.sizes.len() > MAX_PLAN_SIZES {
        return Err(ApiError::bad_request(
            ErrorCode::TooManySizes,
            format!(
                "a plan asks about at most {MAX_PLAN_SIZES} sizes, not {}",
                req.sizes.len()
            ),
        ));
    }
    let held_sizes = state.registry.blobs().sizes_held(&req.sizes).await?;
    let asked: std::collections::HashSet<u64> = req.sizes.iter().copied().collect();
    let open: Vec<(String, Arc<UploadSlot>)> = lock_map(&state)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut resumable = Vec::new();
    for (id, slot) in open {
        // A session busy receiving bytes is not idle: another client holds it.
        if let Ok(s) = slot.session.try_lock()
            && !slot.is_closed()
            && s.digest.is_none()
            && s.upload.is_some()
            && s.offset > 0
            && s.owner == Some(caller.token_id)
            && asked.contains(&s.size)
        {
            resumable.push(upload_status(&id, &s));
        }
    }
    Ok(Json(UploadPlan {
        undeclared: state.registry.blobs().accepts_undeclared(),
        held_sizes,
        resumable,
    }))
}

fn lock_map(
    state: &AppState,
) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<UploadSlot>>> {
    // A poisoned map only means another request panicked while holding the
    // guard; the map itself stays consistent (single inserts/removes).
    state
        .uploads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn session(state: &AppState, id: &str) -> Result<Arc<UploadSlot>, ApiError> {
    lock_map(state)
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::UploadNotFound,
        format!("upload {id} not found (expired or finished)"),
    )
}

fn busy(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::UploadBusy,
        format!("upload {id} is receiving another request"),
    )
}

/// A session the caller may use: still open (another request or the reaper
/// may have finished or closed it meanwhile), and theirs if it is undeclared.
fn usable(
    slot: &UploadSlot,
    s: &UploadSession,
    id: &str,
    caller: &Principal,
) -> Result<(), ApiError> {
    let theirs = slot.opened_by == caller.token_id && s.owner.is_none_or(|o| o == caller.token_id);
    if slot.is_closed() || s.upload.is_none() || !theirs {
        return Err(not_found(id));
    }
    Ok(())
}

/// Where an upload stands.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id")),
    responses((status = 200, body = UploadStatus), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    crate::authz::CanUpload {
        principal: caller, ..
    }: crate::authz::CanUpload,
    Path(id): Path<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    let slot = session(&state, &id)?;
    let s = slot.session.lock().await;
    usable(&slot, &s, &id, &caller)?;
    Ok(Json(upload_status(&id, &s)))
}

/// Append bytes, starting at `Upload-Offset`.
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id"),
           ("Upload-Offset" = u64, Header, description = "offset of the first byte of the body")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = UploadStatus, description = "last byte received, digest verified, blob committed"),
              (status = 202, body = UploadStatus, description = "bytes appended (an undeclared session that has every byte waits for its `PUT`)"),
              (status = 400, body = crate::api_error::ErrorBody, description = "digest or size mismatch (session closed)"),
              (status = 408, body = crate::api_error::ErrorBody, description = "the body delivered too few bytes for too long (`upload_stalled`): the session is closed"),
              (status = 409, body = crate::api_error::ErrorBody, description = "offset mismatch or session busy")))]
pub async fn append(
    State(state): State<AppState>,
    crate::authz::CanUpload {
        principal: caller, ..
    }: crate::authz::CanUpload,
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
                ErrorCode::InvalidOffset,
                "Upload-Offset header with a byte offset is required",
            )
        })?;
    let slot = session(&state, &id)?;
    let Ok(mut s) = slot.session.try_lock() else {
        return Err(busy(&id));
    };
    usable(&slot, &s, &id, &caller)?;
    if at != s.offset {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::OffsetMismatch,
            format!(
                "upload {id} is at byte {}, request starts at {at}",
                s.offset
            ),
        ));
    }
    let mut stream = body.into_data_stream();
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        if slot.is_closed() {
            break;
        }
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                if let Some(stall) = crate::server::stalled(&e) {
                    // A trickle holds the session from everyone else: close it.
                    if let Some(u) = s.upload.take() {
                        u.abort().await;
                    }
                    lock_map(&state).remove(&id);
                    tracing::info!(upload = %id, "closed an upload whose body stalled");
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        ErrorCode::UploadStalled,
                        format!("upload {id} closed: {stall}; open a new session"),
                    ));
                }
                // Client went away mid-body: keep what arrived; it can resume.
                failure = Some(ApiError::bad_request(
                    ErrorCode::BodyInterrupted,
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
            if err.code != ErrorCode::OffsetMismatch {
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
        slot.touch();
    }
    if slot.is_closed() {
        // The reaper closed the session while this request held it.
        if let Some(u) = s.upload.take() {
            u.abort().await;
        }
        return Err(not_found(&id));
    }
    if s.offset < s.size || failure.is_some() || s.digest.is_none() {
        // More bytes, or the commit of an undeclared upload, are to come in
        // another request: release what this one held (a local upload's
        // writer thread) meanwhile.
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
    if s.offset < s.size || s.digest.is_none() {
        return Ok((StatusCode::ACCEPTED, Json(upload_status(&id, &s))));
    }
    lock_map(&state).remove(&id);
    commit(&state, id, &mut s, Declaration::default(), &caller).await
}

/// Commit the session's blob; the session is already out of the map.
async fn commit(
    state: &AppState,
    id: String,
    s: &mut UploadSession,
    declaration: Declaration,
    caller: &Principal,
) -> Result<(StatusCode, Json<UploadStatus>), ApiError> {
    let upload = s
        .upload
        .take()
        .ok_or_else(|| ApiError::internal("upload without writer"))?;
    let digest = upload.finish_with(declaration).await?;
    tracing::debug!(%digest, size = s.size, "blob committed");
    // The caller sent every byte: it holds the content, and may publish it.
    state
        .registry
        .record_blob_holder(&caller.caller, &digest)
        .await?;
    // The size index only steers later pushes; the blob is in either way.
    if let Err(e) = state.registry.blobs().record_size(&digest, s.size).await {
        tracing::warn!(%digest, error = %e, "recording the blob's size failed");
    }
    Ok((
        StatusCode::CREATED,
        Json(UploadStatus {
            id: Some(id),
            digest: Some(digest),
            size: s.size,
            offset: s.size,
            received_digest: None,
            complete: true,
        }),
    ))
}

fn parse_checksum(s: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidChecksum,
            format!("checksum {s:?} is not crc64nvme:<16 hex digits>"),
        )
    };
    let hex = s.strip_prefix("crc64nvme:").ok_or_else(bad)?;
    if hex.len() != 16 {
        return Err(bad());
    }
    u64::from_str_radix(hex, 16).map_err(|_| bad())
}

/// Commit an undeclared upload whose every byte arrived, declaring its
/// digest or checksum. A mismatch closes the session and keeps nothing.
#[utoipa::path(put, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id")),
    request_body = CommitUpload,
    responses((status = 201, body = UploadStatus, description = "verified and committed; `digest` names the blob"),
              (status = 400, body = crate::api_error::ErrorBody, description = "neither digest nor checksum given (`declaration_required`), a malformed one, or a mismatch (`digest_mismatch`, `checksum_mismatch`: session closed)"),
              (status = 404, body = crate::api_error::ErrorBody),
              (status = 413, body = crate::api_error::ErrorBody, description = "a body over 4 KiB (`body_too_large`)"),
              (status = 409, body = crate::api_error::ErrorBody, description = "bytes missing (`upload_incomplete`), a session that declared its digest when it opened (`upload_declared`: it commits on its last byte), or one busy")))]
pub async fn finish(
    State(state): State<AppState>,
    crate::authz::CanUpload {
        principal: caller, ..
    }: crate::authz::CanUpload,
    Path(id): Path<String>,
    body: Result<Json<CommitUpload>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<UploadStatus>), ApiError> {
    let Json(req) = body?;
    let declaration = Declaration {
        digest: req.digest.as_deref().map(parse_digest).transpose()?,
        crc64nvme: req.checksum.as_deref().map(parse_checksum).transpose()?,
    };
    if declaration == Declaration::default() {
        return Err(StoreError::DeclarationMissing.into());
    }
    let slot = session(&state, &id)?;
    let Ok(mut s) = slot.session.try_lock() else {
        return Err(busy(&id));
    };
    usable(&slot, &s, &id, &caller)?;
    if s.digest.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::UploadDeclared,
            format!("upload {id} declared its digest when it opened; it commits on its last byte"),
        ));
    }
    if s.offset < s.size {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::UploadIncomplete,
            format!(
                "upload {id} has {} of its {} bytes; send the rest first",
                s.offset, s.size
            ),
        ));
    }
    // Out of the map before the commit: whatever the verdict, the session is over.
    lock_map(&state).remove(&id);
    commit(&state, id, &mut s, declaration, &caller).await
}

/// Abandon an upload.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "blobs",
    params(("id" = String, Path, description = "upload session id")),
    responses((status = 204), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    crate::authz::CanUpload {
        principal: caller, ..
    }: crate::authz::CanUpload,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let slot = session(&state, &id)?;
    let mut s = slot.session.lock().await;
    usable(&slot, &s, &id, &caller)?;
    lock_map(&state).remove(&id);
    if let Some(u) = s.upload.take() {
        u.abort().await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Take the sessions idle for `idle` or longer out of the map and mark them
/// closed. Reads no session's lock: a request holding one (however slow)
/// cannot hold up the reaper, and sees the mark.
fn take_idle(
    map: &std::sync::Mutex<std::collections::HashMap<String, Arc<UploadSlot>>>,
    idle: Duration,
) -> Vec<(String, Arc<UploadSlot>)> {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let stale: Vec<String> = map
        .iter()
        .filter(|(_, slot)| slot.idle_for() >= idle)
        .map(|(id, _)| id.clone())
        .collect();
    stale
        .into_iter()
        .filter_map(|id| map.remove(&id).map(|slot| (id, slot)))
        .inspect(|(_, slot)| slot.closed.store(true, Ordering::Release))
        .collect()
}

/// Close sessions idle for `upload_idle_timeout`.
pub async fn reap_idle(state: AppState) {
    let idle = state.limits.upload_idle_timeout;
    let mut tick =
        tokio::time::interval((idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(60)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (id, slot) in take_idle(&state.uploads, idle) {
            // Free, its writer is aborted here; held, the holder aborts it
            // when it sees the mark.
            slot.abort_if_free().await;
            tracing::info!(upload = %id, "expired idle upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(token: i64) -> Arc<UploadSlot> {
        Arc::new(UploadSlot::new(
            UploadSession {
                upload: None,
                digest: None,
                owner: Some(token),
                size: 10,
                offset: 0,
            },
            token,
        ))
    }

    #[tokio::test]
    async fn the_reaper_takes_held_sessions_without_waiting() {
        let map = std::sync::Mutex::new(std::collections::HashMap::new());
        let (held, free) = (slot(1), slot(2));
        map.lock().unwrap().insert("held".to_owned(), held.clone());
        map.lock().unwrap().insert("free".to_owned(), free.clone());
        // A request holds one session's lock (a body trickling in, say).
        let guard = held.session.lock().await;
        // Nothing is idle for an hour yet.
        assert!(take_idle(&map, Duration::from_secs(3600)).is_empty());
        let mut taken: Vec<String> = take_idle(&map, Duration::ZERO)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        taken.sort();
        assert_eq!(taken, ["free", "held"]);
        assert!(map.lock().unwrap().is_empty());
        // The holder learns its session was closed.
        assert!(held.is_closed() && free.is_closed());
        drop(guard);
    }

    #[test]
    fn budgets_count_the_openers_sessions_and_bytes() {
        let limits = Limits {
            upload_sessions_per_token: 2,
            upload_bytes_per_token: 25,
            ..Limits::default()
        };
        let mut map = std::collections::HashMap::new();
        map.insert("a".to_owned(), slot(1));
        within_budget(&map, &limits, 1, 15).unwrap();
        let err = within_budget(&map, &limits, 1, 16).unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (StatusCode::TOO_MANY_REQUESTS, ErrorCode::UploadLimit)
        );
        assert!(err.message.contains("25 bytes"), "{}", err.message);
        map.insert("b".to_owned(), slot(1));
        let err = within_budget(&map, &limits, 1, 1).unwrap_err();
        assert!(err.message.contains("2 upload sessions"), "{}", err.message);
        // Another token's budget is its own.
        within_budget(&map, &limits, 2, 25).unwrap();
    }
}
