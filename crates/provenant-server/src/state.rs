use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use provenant_registry::Registry;

use crate::server::Limits;
use crate::uploads::UploadSlot;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    /// The transparency log (sequencer runs in its own task).
    pub log: provenant_registry::TransparencyLog,
    pub uploads: Arc<std::sync::Mutex<HashMap<String, Arc<UploadSlot>>>>,
    /// Recently validated tokens (hash -> principal, expiry, when checked), so
    /// that every request does not cost a database read. Entries live briefly.
    pub token_cache: Arc<std::sync::Mutex<HashMap<String, CachedToken>>>,
    /// Bumped whenever this server changes tokens, roles or principals: a
    /// lookup that began before the change is not cached after it.
    pub credential_generation: Arc<AtomicU64>,
    /// Recently refused unknown tokens (bounded), so that a client repeating
    /// one does not cost a database read per request.
    pub unknown_tokens: Arc<std::sync::Mutex<crate::auth::UnknownTokens>>,
    /// Verifies OIDC identity tokens of CI workloads, when issuers are configured.
    pub oidc: Option<Arc<provenant_oidc::Verifier>>,
    /// The policy gate (decisions at push, promotion, deployment and
    /// admission).
    pub gate: Arc<crate::gate::PolicyGate>,
    /// What a client may cost the server.
    pub limits: Limits,
    pub counters: Arc<Counters>,
}

impl AppState {
    /// The ingestion check a publish carries, when pushes to some
    /// namespace are gated.
    pub fn ingest_gate(&self) -> Option<provenant_registry::GateHandle> {
        (!self.gate.config().ingest.is_empty()).then(|| {
            provenant_registry::GateHandle(Arc::new(crate::gate::Ingest(self.gate.clone())))
        })
    }

    /// Keeps a validated credential for [`crate::auth::TOKEN_CACHE_TTL`].
    pub(crate) fn remember(
        &self,
        generation: u64,
        hash: String,
        principal: crate::auth::Principal,
        expires_at: Option<i64>,
    ) {
        if let Ok(mut c) = self.token_cache.lock() {
            // Checked under the cache's lock, which `forget_credentials`
            // takes after bumping the generation: a lookup that read the
            // database before a revocation never lands after it.
            if self.credential_generation.load(Ordering::SeqCst) != generation {
                return;
            }
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(
                hash,
                CachedToken {
                    principal,
                    expires_at,
                    checked: std::time::Instant::now(),
                },
            );
        }
    }

    /// Whether an `Authorization` header's bearer credential is one this
    /// server validated within [`crate::auth::TOKEN_CACHE_TTL`] and that has
    /// not expired: such a caller holds a real credential, so an address
    /// refused for failed guesses does not lock it out (no guess can reach
    /// this cache).
    pub(crate) fn holds_validated_credential(&self, header: &str) -> bool {
        let Some(credential) = header.strip_prefix("Bearer ") else {
            return false;
        };
        let hash = crate::auth::hash_token(credential.trim());
        let now = crate::auth::now_millis();
        self.token_cache.lock().is_ok_and(|c| {
            c.get(&hash).is_some_and(|t| {
                t.checked.elapsed() < crate::auth::TOKEN_CACHE_TTL
                    && t.expires_at.is_none_or(|e| e > now)
            })
        })
    }

    /// Forgets every validated credential: after a change to tokens, roles
    /// or principals made through this server, the next request of each
    /// caller sees it.
    pub(crate) fn forget_credentials(&self) {
        self.credential_generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut c) = self.token_cache.lock() {
            c.clear();
        }
    }
}

#[derive(Clone, Debug)]
pub struct CachedToken {
    pub principal: crate::auth::Principal,
    pub expires_at: Option<i64>,
    pub checked: std::time::Instant,
}

/// Events an operator watches for, counted since the server started (each
/// is also logged as it happens).
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) auth_failures: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
}

impl Counters {
    /// Requests refused for a missing, malformed, unknown, revoked or expired token.
    pub fn auth_failures(&self) -> u64 {
        self.auth_failures.load(Ordering::Relaxed)
    }

    /// Connections refused (503) because the server served its maximum.
    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Ordering::Relaxed)
    }
}
