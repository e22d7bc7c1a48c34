//! Integration tests of provenant-oidc: one binary (see STYLE.md).

#![allow(clippy::unwrap_used)]

mod jwks_http;
mod leeway;
mod mapping;
mod refusals;
mod support;
