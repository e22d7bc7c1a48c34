//! Provenant HTTP server (axum).
//!
//! REST API under `/api/v1` (OpenAPI 3.1 document at `/api/v1/openapi.json`),
//! `/healthz`, bearer-token auth, resumable streaming blob uploads, and one
//! error boundary: every error body is `{"code": "...", "message": "..."}`.

mod api_error;
mod auth;
mod authz;
mod gate;
mod openapi;
mod ratelimit;
mod routes;
mod server;
mod state;
mod tlog;
mod tls;
mod uploads;
mod vulnwatch;
mod witness;

pub use api_error::ApiError;
pub use gate::GateConfig;
pub use server::{Limits, Running, ServeConfig, ServerError, start};
pub use state::Counters;
pub use tlog::{LogOptions, WitnessPeer};
pub use tls::TlsFiles;
pub use witness::{FileWitnessStore, RunningWitness, WitnessConfig, start_witness};
