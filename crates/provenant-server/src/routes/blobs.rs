use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;
use provenant_digest::Digest;

use crate::api_error::{ApiError, ErrorCode};
use crate::authz::Authenticated;
use crate::state::AppState;

fn parse(d: &str) -> Result<Digest, ApiError> {
    d.parse::<Digest>().map_err(ApiError::from)
}

fn headers(resp: &mut Response, digest: &Digest, size: u64) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&digest.to_string()) {
        h.insert("docker-content-digest", v.clone());
        h.insert(header::ETAG, v);
    }
}

/// A blob the caller may not read is answered as one the server does not
/// hold: its existence is not the caller's to learn.
fn hidden(digest: &Digest) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::BlobNotFound,
        format!("blob {digest} not found"),
    )
}

/// Download a blob (streamed): a file of a version the caller may read, or
/// content it uploaded.
#[utoipa::path(get, path = "/api/v1/blobs/{digest}", tag = "blobs",
    params(("digest" = String, Path, description = "sha256:<hex>")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn get_blob(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let digest = parse(&digest)?;
    if !state.registry.may_use_blob(&p.caller, &digest).await? {
        return Err(hidden(&digest));
    }
    let (size, stream) = state.registry.blobs().get(&digest).await?;
    let body = Body::from_stream(stream.map_err(|e| std::io::Error::other(e.to_string())));
    let mut resp = Response::new(body);
    headers(&mut resp, &digest, size);
    Ok(resp)
}

/// Does the server hold a blob?
#[utoipa::path(head, path = "/api/v1/blobs/{digest}", tag = "blobs",
    params(("digest" = String, Path, description = "sha256:<hex>")),
    responses((status = 200), (status = 404)))]
pub async fn head_blob(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let digest = parse(&digest)?;
    if !state.registry.may_use_blob(&p.caller, &digest).await? {
        return Err(hidden(&digest));
    }
    match state.registry.blobs().size(&digest).await? {
        Some(size) => {
            let mut resp = Response::new(Body::empty());
            headers(&mut resp, &digest, size);
            Ok(resp)
        }
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::BlobNotFound,
            format!("blob {digest} not found"),
        )),
    }
}
