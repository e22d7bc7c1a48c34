//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    self, attest, blobs, identity, log, models, policy, provenance, signing, versions,
};
use crate::uploads;

#[derive(OpenApi)]
#[openapi(
    info(title = "Provenant API", description = "Verifiable model registry: versions, blobs, aliases, labels, lifecycle, signatures, attestations, vulnerability findings, identities and roles per namespace, the policy gate and its admission webhook."),
    paths(
        routes::healthz, routes::metadata_schema,
        identity::whoami, identity::permissions, identity::list_tokens, identity::create_token,
        identity::revoke_token, identity::list_principals, identity::create_principal,
        identity::list_namespaces, identity::create_namespace, identity::list_roles,
        identity::grant_role, identity::revoke_role, identity::access_events,
        models::list_models, models::get_model,
        models::list_aliases, models::set_alias, models::alias_history,
        uploads::create, uploads::plan, uploads::status, uploads::append, uploads::finish, uploads::cancel,
        blobs::get_blob, blobs::head_blob,
        versions::publish, versions::list_model_versions, versions::list_versions, versions::search,
        versions::resolve, versions::get_version, versions::get_manifest, versions::set_labels,
        versions::deprecate, versions::archive,
        signing::attach, signing::list, signing::bundle, signing::keys, signing::add_key, signing::remove_key,
        attest::attach, attest::list, attest::bundle, attest::findings, attest::vulndb_import, attest::vulndb_status,
        provenance::attach, provenance::list, provenance::lineage, provenance::impact, provenance::build_type_schema,
        log::checkpoint, log::key, log::tile, log::entry_tile, log::entry, log::inclusion, log::consistency,
        log::version_entries, log::audit_records, log::audit_events,
        policy::gate, policy::input, policy::decisions, policy::policies, policy::input_schema,
        policy::admission,
    ),
    components(schemas(provenant_api::ErrorBody, provenant_api::ErrorCode)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 document of this API.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
