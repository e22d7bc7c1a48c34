//! Authentication: who is calling. A bearer credential is an API token
//! (`pvt_…`, 256 random bits shown once; only its SHA-256 is stored, and the
//! comparison after the indexed lookup is constant-time) or, where issuers
//! are configured, an OIDC identity token of a CI workload. Either becomes a
//! [`Principal`]: the registry's [`Caller`] (what it may do is decided there,
//! and checked per route by the extractors of `authz.rs`).
//!
//! Every refusal is answered 401 with a stable code, counted, logged, and
//! kept in the access trail (who asked, from where, which credential by a
//! harmless hint, why).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use provenant_registry::{Caller, TokenRefusal};

pub use provenant_registry::TOKEN_PREFIX;

use crate::api_error::{ApiError, ErrorCode};
use crate::state::AppState;

pub use provenant_registry::{generate_token, hash_token};

/// Who is calling, attached to authenticated requests.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The key upload budgets and sessions are kept under: the token's row
    /// id, or for a workload a stable negative key derived from its name.
    pub token_id: i64,
    /// What records name: the principal, or the workload identity.
    pub name: String,
    pub caller: Arc<Caller>,
}

/// How long a validated credential is trusted without asking the database
/// again: bounds how late a revocation or a role change made through another
/// replica takes effect (this server's own changes clear the cache at once).
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

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

/// What of a presented credential may be logged: the `pvt_` prefix and four
/// characters (24 of its 256 random bits), enough to tell tokens apart in a
/// log; nothing of a credential that is not ours, as all of it may be secret.
pub fn token_hint(token: &str) -> String {
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
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A refused credential: the status-401 code, the reason, and what of the
/// credential may be recorded.
struct Refusal {
    code: ErrorCode,
    reason: String,
    credential: String,
}

impl Refusal {
    fn new(code: ErrorCode, reason: impl Into<String>, credential: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            credential: credential.into(),
        }
    }
}

/// The upload-budget key of a workload: its name hashed into the negative
/// numbers (token row ids are positive).
fn workload_key(name: &str) -> i64 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b) | i64::MIN
}

/// The caller an API token authenticates (cached briefly).
async fn by_token(state: &AppState, token: &str, now: i64) -> Result<Principal, Refusal> {
    let generation = state.credential_generation.load(Ordering::SeqCst);
    let hash = hash_token(token);
    let hint = token_hint(token);
    let cached = state
        .token_cache
        .lock()
        .ok()
        .and_then(|c| c.get(&hash).cloned())
        .filter(|c| c.checked.elapsed() < TOKEN_CACHE_TTL);
    if let Some(c) = cached {
        if c.expires_at.is_some_and(|e| e <= now) {
            return Err(Refusal::new(
                ErrorCode::TokenExpired,
                "token has expired",
                hint,
            ));
        }
        return Ok(c.principal);
    }
    if state.unknown_tokens.lock().is_ok_and(|u| u.contains(&hash)) {
        return Err(Refusal::new(ErrorCode::UnknownToken, "unknown token", hint));
    }
    let caller = match state.registry.authenticate_token(&hash, now).await {
        Ok(Ok(c)) => c,
        Ok(Err(refusal)) => {
            let code = match refusal {
                TokenRefusal::Unknown => {
                    if let Ok(mut u) = state.unknown_tokens.lock() {
                        u.insert(hash);
                    }
                    ErrorCode::UnknownToken
                }
                TokenRefusal::Expired => ErrorCode::TokenExpired,
                TokenRefusal::Revoked => ErrorCode::TokenRevoked,
            };
            return Err(Refusal::new(code, refusal.to_string(), hint));
        }
        Err(e) => {
            tracing::error!(error = %e, "authenticating a token failed");
            return Err(Refusal::new(
                ErrorCode::Internal,
                "the registry could not check the token",
                hint,
            ));
        }
    };
    let (id, expires_at) = match &caller.credential {
        provenant_registry::Credential::Token { id, expires_at, .. } => (*id, *expires_at),
        provenant_registry::Credential::Workload { expires_at, .. } => {
            (workload_key(&caller.name), Some(*expires_at))
        }
    };
    let principal = Principal {
        token_id: id,
        name: caller.name.clone(),
        caller: Arc::new(caller),
    };
    state.remember(generation, hash, principal.clone(), expires_at);
    Ok(principal)
}

/// The caller an OIDC identity token authenticates (cached briefly, never
/// past its `exp`).
async fn by_identity_token(
    state: &AppState,
    verifier: &provenant_oidc::Verifier,
    jwt: &str,
    now: i64,
) -> Result<Principal, Refusal> {
    let generation = state.credential_generation.load(Ordering::SeqCst);
    let hash = hash_token(jwt);
    let cached = state
        .token_cache
        .lock()
        .ok()
        .and_then(|c| c.get(&hash).cloned())
        .filter(|c| c.checked.elapsed() < TOKEN_CACHE_TTL);
    if let Some(c) = cached {
        if c.expires_at.is_some_and(|e| e <= now) {
            return Err(Refusal::new(
                ErrorCode::TokenExpired,
                "identity token has expired",
                c.principal.name,
            ));
        }
        return Ok(c.principal);
    }
    let workload = verifier
        .verify(jwt, std::time::SystemTime::now())
        .await
        .map_err(|e| Refusal::new(e.code(), e.to_string(), "identity token"))?;
    let expires_at = workload
        .expires_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let identity = provenant_registry::WorkloadIdentity {
        principal: workload.principal,
        service_account: workload.service_account,
        grants: workload.grants,
        issuer: workload.issuer,
        subject: workload.subject,
        expires_at,
    };
    let credential = format!("oidc {} sub={}", identity.issuer, identity.subject);
    let caller = state
        .registry
        .workload_caller(identity)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "resolving a workload's roles failed");
            Refusal::new(
                ErrorCode::Internal,
                "the registry could not resolve the workload",
                credential.clone(),
            )
        })?;
    let principal = Principal {
        token_id: workload_key(&caller.name),
        name: caller.name.clone(),
        caller: Arc::new(caller),
    };
    state.remember(generation, hash, principal.clone(), Some(expires_at));
    Ok(principal)
}

/// The peer address of a request, as the access trail records it.
pub fn peer_of(req_extensions: &axum::http::Extensions) -> String {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let now = now_millis();
    // The header's text, taken before any await (a request is not `Sync`).
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned).map_err(|_| ()));
    let principal = match authenticate(&state, header, now).await {
        Ok(p) => p,
        Err(r) => {
            let total = state.counters.auth_failures.fetch_add(1, Ordering::Relaxed) + 1;
            let peer = peer_of(req.extensions());
            tracing::warn!(
                peer = %peer,
                credential = %r.credential,
                code = %r.code,
                reason = %r.reason,
                failures_total = total,
                "authentication failed"
            );
            if r.code == ErrorCode::Internal {
                return Err(ApiError::internal(r.reason));
            }
            let event = provenant_registry::AccessEventRow {
                kind: "authentication_failed".into(),
                credential: r.credential,
                peer,
                method: req.method().to_string(),
                path: req.uri().path().chars().take(512).collect(),
                code: r.code.as_str().into(),
                reason: r.reason.clone(),
                ..Default::default()
            };
            if let Err(e) = state.registry.access_event(&event).await {
                tracing::error!(error = %e, "recording an authentication failure failed");
            }
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                r.code,
                r.reason,
            ));
        }
    };
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

async fn authenticate(
    state: &AppState,
    header: Option<Result<String, ()>>,
    now: i64,
) -> Result<Principal, Refusal> {
    let Some(header) = header else {
        return Err(Refusal::new(
            ErrorCode::Unauthorized,
            "missing Authorization: Bearer <token> header",
            "none",
        ));
    };
    let Ok(value) = header else {
        return Err(Refusal::new(
            ErrorCode::Unauthorized,
            "Authorization header is not valid text",
            "none",
        ));
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(Refusal::new(
            ErrorCode::Unauthorized,
            "Authorization header must be \"Bearer <token>\"",
            "none",
        ));
    };
    if !token.starts_with(TOKEN_PREFIX)
        && let Some(verifier) = &state.oidc
        && provenant_oidc::looks_like_jwt(token)
    {
        return by_identity_token(state, verifier, token, now).await;
    }
    by_token(state, token, now).await
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

    #[test]
    fn workload_keys_are_negative_and_stable() {
        let a = workload_key("github:org/repo:.github/workflows/t.yml@refs/heads/main");
        assert!(a < 0);
        assert_eq!(
            a,
            workload_key("github:org/repo:.github/workflows/t.yml@refs/heads/main")
        );
        assert_ne!(
            a,
            workload_key("github:org/repo:.github/workflows/u.yml@refs/heads/main")
        );
    }
}
