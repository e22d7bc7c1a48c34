//! Bearer-token authentication. Tokens are 256-bit random values shown once;
//! only their SHA-256 is stored, and the comparison after the indexed lookup is
//! constant-time.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use provenant_registry::Role;

use crate::api_error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Who is calling, attached to authenticated requests.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The token's row: names need not be unique, this is.
    pub token_id: i64,
    pub name: String,
    pub role: Role,
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

/// Unknown tokens refused recently, remembered for [`TOKEN_CACHE_TTL`] so that
/// a client repeating one costs a hash and a map lookup, not a database read.
/// Bounded: a flood of distinct tokens clears it rather than growing it.
#[derive(Debug, Default)]
pub struct UnknownTokens {
    seen: std::collections::HashMap<String, std::time::Instant>,
}

impl UnknownTokens {
    /// At most this many hashes (64 hex characters each) are remembered.
    pub const CAPACITY: usize = 4096;

    fn contains(&self, hash: &str) -> bool {
        self.seen
            .get(hash)
            .is_some_and(|at| at.elapsed() < TOKEN_CACHE_TTL)
    }

    fn insert(&mut self, hash: String) {
        if self.seen.len() >= Self::CAPACITY {
            self.seen.retain(|_, at| at.elapsed() < TOKEN_CACHE_TTL);
            if self.seen.len() >= Self::CAPACITY {
                self.seen.clear();
            }
        }
        self.seen.insert(hash, std::time::Instant::now());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }
}

/// What of a presented token may be logged: the `pvt_` prefix and four
/// characters (24 of its 256 random bits), enough to tell tokens apart in a
/// log; nothing of a token that is not ours, as all of it may be secret.
fn token_hint(token: &str) -> String {
    match token.strip_prefix(TOKEN_PREFIX) {
        Some(rest) => format!(
            "{TOKEN_PREFIX}{}…",
            rest.chars().take(4).collect::<String>()
        ),
        None => format!(
            "(not a {TOKEN_PREFIX} token, {} characters)",
            token.chars().count()
        ),
    }
}

/// Unix milliseconds now (what token expiry times are in).
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    // Every refusal is logged (who asked, which token by its prefix, why)
    // and counted.
    let refuse = |token: Option<&str>, why: &str| {
        let total = state.counters.auth_failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            peer = %peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
            token = %token.map_or_else(|| "none".to_owned(), token_hint),
            reason = why,
            failures_total = total,
            "authentication failed"
        );
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            why,
        )
    };
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Err(refuse(None, "missing Authorization: Bearer <token> header"));
    };
    let Ok(value) = header.to_str() else {
        return Err(refuse(None, "Authorization header is not valid text"));
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(refuse(
            None,
            "Authorization header must be \"Bearer <token>\"",
        ));
    };
    let hash = hash_token(token);
    let now = now_millis();
    let cached = state
        .token_cache
        .lock()
        .ok()
        .and_then(|c| c.get(&hash).cloned())
        .filter(|c| c.checked.elapsed() < TOKEN_CACHE_TTL);
    let principal = match cached {
        Some(c) => {
            if c.expires_at.is_some_and(|e| e <= now) {
                return Err(refuse(Some(token), "token has expired"));
            }
            c.principal
        }
        None => {
            let known_unknown = state.unknown_tokens.lock().is_ok_and(|u| u.contains(&hash));
            if known_unknown {
                return Err(refuse(Some(token), "unknown token"));
            }
            let row = state.registry.tokens().by_hash(&hash).await?;
            let row = match row {
                Some(r) if bool::from(r.hash.as_bytes().ct_eq(hash.as_bytes())) => r,
                _ => {
                    if let Ok(mut u) = state.unknown_tokens.lock() {
                        u.insert(hash);
                    }
                    return Err(refuse(Some(token), "unknown token"));
                }
            };
            if row.revoked_at.is_some() {
                return Err(refuse(Some(token), "token has been revoked"));
            }
            if row.expires_at.is_some_and(|e| e <= now) {
                return Err(refuse(Some(token), "token has expired"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tokens_stay_bounded() {
        let mut u = UnknownTokens::default();
        for i in 0..3 * UnknownTokens::CAPACITY {
            u.insert(hash_token(&format!("pvt_{i}")));
            assert!(u.len() <= UnknownTokens::CAPACITY, "after {i}: {}", u.len());
        }
        let last = hash_token(&format!("pvt_{}", 3 * UnknownTokens::CAPACITY - 1));
        assert!(u.contains(&last));
        assert!(!u.contains(&hash_token("pvt_never")));
    }

    #[test]
    fn token_hints_keep_the_secret() {
        let token = "pvt_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let hint = token_hint(token);
        assert_eq!(hint, "pvt_abcd…");
        assert!(!hint.contains("efgh"));
        assert_eq!(
            token_hint("hunter2-my-password"),
            "(not a pvt_ token, 19 characters)"
        );
    }
}
