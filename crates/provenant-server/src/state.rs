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
    /// Recently refused unknown tokens (bounded), so that a client repeating
    /// one does not cost a database read per request.
    pub unknown_tokens: Arc<std::sync::Mutex<crate::auth::UnknownTokens>>,
    /// What a client may cost the server.
    pub limits: Limits,
    pub counters: Arc<Counters>,
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
