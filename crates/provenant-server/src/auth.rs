//! Bearer-token authentication. Tokens are 256-bit random values shown once;
//! only their SHA-256 is stored, and the comparison after the indexed lookup is
//! constant-time.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use crate::api_error::ApiError;
use crate::state::AppState;

/// Who is calling, attached to authenticated requests.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The token's row: names need not be unique, this is.
    pub token_id: i64,
    pub name: String,
    pub role: String,
}

pub const TOKEN_PREFIX: &str = "pvt_";

/// How long a validated token is trusted without asking the database again
/// (bounds how late a revocation takes effect).
const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// A fresh token: `pvt_` + base64url(32 random bytes).
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized =
        |msg: &str| ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unauthorized", msg);
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token> header"))?;
    let value = header
        .to_str()
        .map_err(|_| unauthorized("Authorization header is not valid text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("Authorization header must be \"Bearer <token>\""))?;
    let hash = hash_token(token);
    let now = provenant_store::now_millis();
    let cached = state
        .token_cache
        .lock()
        .ok()
        .and_then(|c| c.get(&hash).cloned())
        .filter(|c| c.checked.elapsed() < TOKEN_CACHE_TTL);
    let principal = match cached {
        Some(c) => {
            if c.expires_at.is_some_and(|e| e <= now) {
                return Err(unauthorized("token has expired"));
            }
            c.principal
        }
        None => {
            let row = state.registry.store.token_by_hash(&hash).await?;
            let row = match row {
                Some(r) if bool::from(r.hash.as_bytes().ct_eq(hash.as_bytes())) => r,
                _ => return Err(unauthorized("unknown token")),
            };
            if row.revoked_at.is_some() {
                return Err(unauthorized("token has been revoked"));
            }
            if row.expires_at.is_some_and(|e| e <= now) {
                return Err(unauthorized("token has expired"));
            }
            let principal = Principal {
                token_id: row.id,
                name: row.name,
                role: row.role,
            };
            if let Ok(mut c) = state.token_cache.lock() {
                if c.len() > 10_000 {
                    c.clear();
                }
                c.insert(
                    hash,
                    crate::state::CachedToken {
                        principal: principal.clone(),
                        expires_at: row.expires_at,
                        checked: std::time::Instant::now(),
                    },
                );
            }
            principal
        }
    };
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}
