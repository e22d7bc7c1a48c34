//! Integration tests of provenant-policy (one binary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod decide;
mod load;
mod opa;
mod runner;
mod signed;

use provenant_policy::{DataSource, ModeOverrides, ModuleSource, PolicySet};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;

/// A fixed decision time: 2030-01-01.
pub const NOW: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

/// A complete, valid input document (v1).
pub fn input() -> Value {
    json!({
        "schema": "https://provenant.dev/policy-input/v1",
        "action": "deploy",
        "artifact": {
            "reference": format!("team/model@sha256:{}", "a".repeat(64)),
            "requested": "team/model:production",
            "pinned": false,
            "digest": format!("sha256:{}", "a".repeat(64)),
            "namespace": "team", "model": "model", "number": 3,
            "labels": {"stage": "prod"},
            "state": "active", "state_reason": null,
            "aliases": ["production"],
            "license": "apache-2.0",
            "created_by": "alice", "created_at": "2029-01-01T00:00:00Z"
        },
        "signatures": [],
        "provenance": null,
        "sbom": null,
        "findings": {"scanned": false, "scanned_at": null, "open": [], "suppressed": []},
        "approvals": [],
        "target": {
            "environment": "production", "cluster": null, "kubernetes_namespace": null,
            "alias": null, "workload": null, "images": []
        }
    })
}

/// Modules from `(path, text)` pairs.
pub fn modules(pairs: &[(&str, &str)]) -> Vec<ModuleSource> {
    pairs
        .iter()
        .map(|(p, t)| ModuleSource::new(*p, *t))
        .collect()
}

/// A data source.
pub fn data(name: &str, value: Value) -> DataSource {
    DataSource {
        name: name.into(),
        value,
    }
}

/// Compiles modules without data or overrides, 250 ms limit.
pub fn compile(pairs: &[(&str, &str)]) -> PolicySet {
    PolicySet::compile(
        &modules(pairs),
        &[],
        &ModeOverrides::new(),
        Duration::from_millis(250),
    )
    .unwrap()
}
