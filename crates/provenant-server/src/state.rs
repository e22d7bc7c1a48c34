use std::collections::HashMap;
use std::sync::Arc;

use provenant_registry::Registry;
use tokio::sync::Mutex;

use crate::uploads::UploadSession;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    /// The transparency log (sequencer runs in its own task).
    pub log: provenant_registry::TransparencyLog,
    pub uploads: Arc<std::sync::Mutex<HashMap<String, Arc<Mutex<UploadSession>>>>>,
    /// Recently validated tokens (hash -> principal, expiry, when checked), so
    /// that every request does not cost a database read. Entries live briefly.
    pub token_cache: Arc<std::sync::Mutex<HashMap<String, CachedToken>>>,
}

#[derive(Clone, Debug)]
pub struct CachedToken {
    pub principal: crate::auth::Principal,
    pub expires_at: Option<i64>,
    pub checked: std::time::Instant,
}
