//! Store test suite: every metadata test runs against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod blobs;
mod lineage;
mod meta;

/// Give `store` the registry's log-entry schema, as the registry does: the
/// store's writes log their changes through it.
fn logged(store: &provenant_store::Store) {
    store.set_entry_encoder(std::sync::Arc::new(provenant_registry::LogEntries));
}
