//! Route handlers and the router.

pub mod attest;
pub mod blobs;
pub mod identity;
pub mod log;
pub mod models;
pub mod policy;
pub mod provenance;
pub mod signing;
pub mod versions;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router, middleware};
use provenant_registry::{LabelFilter, ModelName, Reference, VersionQuery};

use crate::api_error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::{auth, openapi, uploads};

/// Largest JSON request body (version manifests with many files stay far below).
const JSON_LIMIT: usize = 16 << 20;

/// Largest body of an upload's commit (`PUT`: a digest or a checksum).
const COMMIT_LIMIT: usize = 4 << 10;

pub use provenant_api::BundleBody;

/// A bundle body's bundle and key material, as the registry takes them (the
/// bundle's bytes as the client serialised them).
/// `caller` is who attaches it: provenance may name parents only in
/// namespaces it may read.
pub fn attachment_input(
    body: BundleBody,
    caller: &provenant_registry::Caller,
) -> Result<provenant_registry::AttachmentInput, ApiError> {
    Ok(provenant_registry::AttachmentInput {
        bundle: serde_json::to_vec(&body.bundle).map_err(ApiError::internal)?,
        public_key: body.public_key,
        certificate_roots: body.certificate_roots,
        readable: caller.visibility(),
    })
}

/// 201 for a new attachment, 200 for one that was already there.
pub fn attached<T>(created: bool, view: T) -> (axum::http::StatusCode, Json<T>) {
    let status = if created {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    (status, Json(view))
}

pub fn router(state: AppState) -> Router {
    let authed = Router::new()
        .route("/api/v1/whoami", get(identity::whoami))
        .route("/api/v1/permissions", get(identity::permissions))
        .route(
            "/api/v1/tokens",
            get(identity::list_tokens).post(identity::create_token),
        )
        .route("/api/v1/tokens/{token}", delete(identity::revoke_token))
        .route(
            "/api/v1/principals",
            get(identity::list_principals).post(identity::create_principal),
        )
        .route(
            "/api/v1/namespaces",
            get(identity::list_namespaces).post(identity::create_namespace),
        )
        .route(
            "/api/v1/namespaces/{namespace}/roles",
            get(identity::list_roles),
        )
        .route(
            "/api/v1/namespaces/{namespace}/roles/{principal}",
            put(identity::grant_role).delete(identity::revoke_role),
        )
        .route("/api/v1/admin/access-events", get(identity::access_events))
        .route("/api/v1/log/entries/{index}", get(log::entry))
        .route("/log/tile/entries/{*path}", get(log::entry_tile))
        .route("/api/v1/uploads", post(uploads::create))
        .route("/api/v1/uploads/plan", post(uploads::plan))
        // Only a PATCH streams a body of any size (into the blob store, never
        // into memory); the commit's PUT is a few bytes of JSON.
        .route(
            "/api/v1/uploads/{id}",
            patch(uploads::append.layer(DefaultBodyLimit::disable()))
                .get(uploads::status)
                .put(uploads::finish.layer(DefaultBodyLimit::max(COMMIT_LIMIT)))
                .delete(uploads::cancel),
        )
        .route(
            "/api/v1/blobs/{digest}",
            get(blobs::get_blob).head(blobs::head_blob),
        )
        .route("/api/v1/models", get(models::list_models))
        .route("/api/v1/models/{model}", get(models::get_model))
        .route(
            "/api/v1/models/{model}/versions",
            get(versions::list_model_versions).post(versions::publish),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}",
            get(versions::get_version),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/manifest",
            get(versions::get_manifest),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/labels",
            post(versions::set_labels),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/deprecate",
            post(versions::deprecate),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/archive",
            post(versions::archive),
        )
        .route("/api/v1/models/{model}/aliases", get(models::list_aliases))
        .route(
            "/api/v1/models/{model}/aliases/{alias}",
            put(models::set_alias),
        )
        .route(
            "/api/v1/models/{model}/aliases/{alias}/history",
            get(models::alias_history),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/signatures",
            get(signing::list).post(signing::attach),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/signatures/{digest}",
            get(signing::bundle),
        )
        .route(
            "/api/v1/namespaces/{namespace}/keys",
            get(signing::keys).post(signing::add_key),
        )
        .route(
            "/api/v1/namespaces/{namespace}/keys/{fingerprint}",
            delete(signing::remove_key),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/attestations",
            get(attest::list).post(attest::attach),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/attestations/{digest}",
            get(attest::bundle),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/findings",
            get(attest::findings),
        )
        .route("/api/v1/vulndb", get(attest::vulndb_status))
        .route(
            "/api/v1/vulndb/import",
            post(attest::vulndb_import).layer(DefaultBodyLimit::max(attest::VULNDB_LIMIT)),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/provenance",
            get(provenance::list).post(provenance::attach),
        )
        .route(
            "/api/v1/models/{model}/versions/{number}/lineage",
            get(provenance::lineage),
        )
        .route("/api/v1/impact", get(provenance::impact))
        .route("/api/v1/log/versions", get(log::version_entries))
        .route("/api/v1/admin/log/records", get(log::audit_records))
        .route("/api/v1/admin/log/events", get(log::audit_events))
        .route("/api/v1/versions", get(versions::list_versions))
        .route("/api/v1/search", get(versions::search))
        .route("/api/v1/resolve", get(versions::resolve))
        .route("/api/v1/gate", post(policy::gate))
        .route("/api/v1/policy/input", get(policy::input))
        .route("/api/v1/decisions", get(policy::decisions))
        .route("/api/v1/policies", get(policy::policies))
        .route(
            "/admission",
            post(policy::admission).layer(DefaultBodyLimit::max(policy::ADMISSION_LIMIT)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/tile/{*path}", get(log::tile))
        .route("/api/v1/log/proof/inclusion", get(log::inclusion))
        .route("/api/v1/log/proof/consistency", get(log::consistency))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route(
            "/api/v1/schemas/version-metadata.json",
            get(metadata_schema),
        )
        .route(
            "/api/v1/schemas/ml-training-build-type.json",
            get(provenance::build_type_schema),
        )
        .route(
            "/api/v1/schemas/policy-input.json",
            get(policy::input_schema),
        )
        .merge(authed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.limits,
            crate::server::pace_bodies,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness and readiness.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "ok")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The JSON Schema version metadata must satisfy.
#[utoipa::path(get, path = "/api/v1/schemas/version-metadata.json", tag = "meta",
    responses((status = 200, description = "JSON Schema (draft 2020-12)")))]
pub async fn metadata_schema() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/schema+json")],
        provenant_registry::METADATA_SCHEMA,
    )
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        ErrorCode::RouteNotFound,
        format!("no route for {}", uri.path()),
    )
}

/// Query parameters shared by the listing endpoints. Parsed by hand because
/// `label` repeats.
#[derive(Debug, Default)]
pub struct ListParams {
    pub labels: Vec<LabelFilter>,
    pub state: Option<String>,
    pub q: Option<String>,
    pub prefix: Option<String>,
    pub reference: Option<String>,
    pub cursor: Option<String>,
    pub limit: i64,
}

impl ListParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut p = Self {
            limit: 50,
            ..Self::default()
        };
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match &*k {
                "label" => {
                    let (key, value) = v.split_once('=').ok_or_else(|| {
                        ApiError::bad_request(
                            ErrorCode::InvalidLabel,
                            format!("label filter {v:?} must be key=value"),
                        )
                    })?;
                    p.labels.push(LabelFilter {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    });
                }
                "state" => p.state = Some(v.into_owned()),
                "q" => p.q = Some(v.into_owned()),
                "prefix" => p.prefix = Some(v.into_owned()),
                "ref" => p.reference = Some(v.into_owned()),
                "cursor" => p.cursor = Some(v.into_owned()).filter(|c| !c.is_empty()),
                "limit" => {
                    p.limit = v
                        .parse::<i64>()
                        .ok()
                        .filter(|l| (1..=1000).contains(l))
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                ErrorCode::InvalidLimit,
                                "limit must be 1 to 1000",
                            )
                        })?;
                }
                other => {
                    return Err(ApiError::bad_request(
                        ErrorCode::InvalidQuery,
                        format!("unknown query parameter {other:?}"),
                    ));
                }
            }
        }
        Ok(p)
    }

    /// The version listing these parameters ask for (of one model, or of
    /// all): the cursor is checked first, then the model, then the state.
    pub fn version_query(&self, model: Option<&str>) -> Result<VersionQuery, ApiError> {
        Ok(VersionQuery {
            cursor: self.id_cursor()?,
            model: model.map(model_name).transpose()?,
            labels: self.labels.clone(),
            state: self
                .state
                .as_deref()
                .map(provenant_registry::parse_state)
                .transpose()?,
            text: self.q.clone(),
            limit: self.limit,
            only: None,
        })
    }

    /// Numeric cursor (a version id) for version listings.
    pub fn id_cursor(&self) -> Result<Option<i64>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(ErrorCode::InvalidCursor, format!("bad cursor {c:?}"))
                })
            })
            .transpose()
    }
}

pub type JsonResult<T> = Result<Json<T>, ApiError>;

/// `ns/name:N` from a model path segment and a version number segment.
pub fn reference(model: &str, number: &str) -> Result<Reference, ApiError> {
    let n: i64 = number.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidReference,
            format!("version number {number:?} is not a positive integer"),
        )
    })?;
    Ok(Reference::numbered(model, n)?)
}

/// A model named by a path segment (`namespace/name`, URL-decoded).
pub fn model_name(model: &str) -> Result<ModelName, ApiError> {
    Ok(ModelName::parse(model)?)
}

/// The digest naming one of a version's bundles in a path segment. Text
/// that is not a digest names no bundle: 404, as for an unknown digest.
pub fn bundle_digest(
    row: &provenant_registry::VersionRow,
    what: &str,
    digest: &str,
) -> Result<provenant_digest::Digest, ApiError> {
    digest.parse().map_err(|_| {
        ApiError::from(provenant_registry::RegistryError::VersionNotFound(format!(
            "{}:{} {what} {digest}",
            row.model, row.number
        )))
    })
}
