use std::collections::HashMap;
use std::sync::Arc;

use provenant_registry::Registry;
use tokio::sync::Mutex;

use crate::uploads::UploadSession;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    pub uploads: Arc<std::sync::Mutex<HashMap<String, Arc<Mutex<UploadSession>>>>>,
}
