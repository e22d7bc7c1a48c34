//! Authorisation: what a route needs of its caller, declared in its
//! signature as one extractor ([`CanRead`], [`CanPublish`], [`CanMaintain`],
//! [`CanManageRoles`], [`CanUpload`], [`CanAudit`], [`IsAdmin`], or just
//! [`Authenticated`] for routes whose results are filtered to what the
//! caller may read). The extractor finds the namespace in the route's path
//! (`{model}` is `namespace/name`, or `{namespace}`), asks the registry's
//! [`provenant_registry::Caller`] — the one place permissions are decided —
//! and refuses with 403 `forbidden`, recorded in the access trail. No
//! handler compares a role.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use provenant_api::{Permission, RoutePermission};

use crate::api_error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::state::AppState;

/// Where a permission must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In the namespace the path names.
    PathNamespace,
    /// In some namespace (uploads precede the publish that names one).
    Somewhere,
    /// In every namespace (`*`), or globally for `Admin`.
    Everywhere,
}

impl Scope {
    /// The word the served matrix uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PathNamespace => "namespace",
            Self::Somewhere => "some_namespace",
            Self::Everywhere => "every_namespace",
        }
    }
}

/// A permission a route needs, and where.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
    const SCOPE: Scope;
}

macro_rules! needs {
    ($($(#[$doc:meta])* $name:ident = $perm:ident in $scope:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Need for $name {
            const PERMISSION: Permission = Permission::$perm;
            const SCOPE: Scope = Scope::$scope;
        }
    )*};
}

needs! {
    /// Read the path's namespace.
    ReadNs = Read in PathNamespace;
    /// Publish into the path's namespace.
    PublishNs = Publish in PathNamespace;
    /// Maintain the path's namespace.
    MaintainNs = Maintain in PathNamespace;
    /// Grant roles in the path's namespace.
    ManageRolesNs = ManageRoles in PathNamespace;
    /// Publish somewhere: upload blobs.
    PublishSomewhere = Publish in Somewhere;
    /// The audit trail, across every namespace.
    AuditAll = Audit in Everywhere;
    /// Global administration.
    AdminAll = Admin in Everywhere;
}

/// A caller allowed what `N` needs; `namespace` is the path's, when `N`
/// asks for one.
#[derive(Debug)]
pub struct Allowed<N: Need> {
    pub principal: Principal,
    pub namespace: String,
    _need: PhantomData<N>,
}

pub type CanRead = Allowed<ReadNs>;
pub type CanPublish = Allowed<PublishNs>;
pub type CanMaintain = Allowed<MaintainNs>;
pub type CanManageRoles = Allowed<ManageRolesNs>;
pub type CanUpload = Allowed<PublishSomewhere>;
pub type CanAudit = Allowed<AuditAll>;
pub type IsAdmin = Allowed<AdminAll>;

/// Any authenticated caller.
#[derive(Debug)]
pub struct Authenticated(pub Principal);

fn principal_of(parts: &Parts) -> Result<Principal, ApiError> {
    parts
        .extensions
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::internal("an authorised route is not behind authentication"))
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        principal_of(parts).map(Self)
    }
}

/// The namespace a route's path names: `{model}` (`namespace/name`) or
/// `{namespace}`.
async fn path_namespace<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::internal(format!("path parameters: {e}")))?;
    for (key, value) in &params {
        match key {
            "model" => return Ok(provenant_registry::ModelName::parse(value)?.namespace),
            "namespace" => return Ok(value.to_owned()),
            _ => {}
        }
    }
    Err(ApiError::internal(
        "a namespace-scoped route has no {model} or {namespace} in its path",
    ))
}

impl<N: Need> FromRequestParts<AppState> for Allowed<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = principal_of(parts)?;
        let c = &principal.caller;
        let (allowed, namespace) = match N::SCOPE {
            Scope::PathNamespace => {
                let ns = path_namespace(parts, state).await?;
                (c.allows(N::PERMISSION, &ns), ns)
            }
            Scope::Somewhere => (c.allows_somewhere(N::PERMISSION), String::new()),
            Scope::Everywhere => (c.allows_everywhere(N::PERMISSION), String::new()),
        };
        if allowed {
            return Ok(Self {
                principal,
                namespace,
                _need: PhantomData,
            });
        }
        let where_ = match N::SCOPE {
            Scope::PathNamespace => format!("in namespace {namespace}"),
            Scope::Somewhere => "in any namespace".to_owned(),
            Scope::Everywhere if N::PERMISSION == Permission::Admin => "(global)".to_owned(),
            Scope::Everywhere => "in every namespace (*)".to_owned(),
        };
        let reason = format!(
            "{} may not {} {where_}",
            principal.name,
            N::PERMISSION.as_str()
        );
        deny(state, &RequestInfo::of(parts), &principal, &reason).await;
        Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            reason,
        ))
    }
}

/// What of a request the access trail records: method, path, peer.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    pub peer: String,
}

impl RequestInfo {
    fn of(parts: &Parts) -> Self {
        Self {
            method: parts.method.to_string(),
            path: parts.uri.path().chars().take(512).collect(),
            peer: crate::auth::peer_of(&parts.extensions),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// For the few routes that name a namespace in their query rather than
/// their path (`/api/v1/resolve?ref=…`, `/api/v1/log/versions?ref=…`): the
/// same check as [`CanRead`], refused and recorded the same way.
pub async fn require_read(
    state: &AppState,
    principal: &Principal,
    request: &RequestInfo,
    namespace: &str,
) -> Result<(), ApiError> {
    if principal.caller.allows(Permission::Read, namespace) {
        return Ok(());
    }
    let reason = format!("{} may not read in namespace {namespace}", principal.name);
    deny(state, request, principal, &reason).await;
    Err(ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        reason,
    ))
}

/// Records a permission denial in the access trail (and the server log).
pub async fn deny(state: &AppState, request: &RequestInfo, principal: &Principal, reason: &str) {
    tracing::warn!(principal = %principal.name, peer = %request.peer, method = %request.method,
        path = %request.path, reason, "permission denied");
    let event = provenant_registry::AccessEventRow {
        kind: "permission_denied".into(),
        principal: principal.name.clone(),
        credential: provenant_registry::credential_label(&principal.caller.credential),
        peer: request.peer.clone(),
        method: request.method.clone(),
        path: request.path.clone(),
        code: ErrorCode::Forbidden.as_str().into(),
        reason: reason.to_owned(),
        ..Default::default()
    };
    if let Err(e) = state.registry.access_event(&event).await {
        tracing::error!(error = %e, "recording a permission denial failed");
    }
}

/// Every route and what it needs: the matrix `GET /api/v1/permissions`
/// serves and the documentation shows. A test walks it route by route and
/// role by role against the server's answers.
pub const ROUTES: &[(&str, &str, RouteNeed)] = {
    use RouteNeed::*;
    &[
        ("GET", "/healthz", Public),
        ("GET", "/log/checkpoint", Public),
        ("GET", "/log/key", Public),
        ("GET", "/log/tile/{level}/{index}", Public),
        (
            "GET",
            "/log/tile/entries/{index}",
            Perm(Permission::Audit, Scope::Everywhere),
        ),
        (
            "GET",
            "/api/v1/log/entries/{index}",
            Perm(Permission::Audit, Scope::Everywhere),
        ),
        ("GET", "/api/v1/log/proof/inclusion", Public),
        ("GET", "/api/v1/log/proof/consistency", Public),
        ("GET", "/api/v1/openapi.json", Public),
        ("GET", "/api/v1/schemas/version-metadata.json", Public),
        ("GET", "/api/v1/schemas/ml-training-build-type.json", Public),
        ("GET", "/api/v1/schemas/policy-input.json", Public),
        ("GET", "/api/v1/whoami", Authn),
        ("GET", "/api/v1/permissions", Authn),
        ("GET", "/api/v1/tokens", Authn),
        ("POST", "/api/v1/tokens", Authn),
        ("DELETE", "/api/v1/tokens/{token}", Authn),
        (
            "GET",
            "/api/v1/principals",
            Perm(Permission::Admin, Scope::Everywhere),
        ),
        (
            "POST",
            "/api/v1/principals",
            Perm(Permission::Admin, Scope::Everywhere),
        ),
        ("GET", "/api/v1/namespaces", Authn),
        (
            "POST",
            "/api/v1/namespaces",
            Perm(Permission::Admin, Scope::Everywhere),
        ),
        (
            "GET",
            "/api/v1/namespaces/{namespace}/roles",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "PUT",
            "/api/v1/namespaces/{namespace}/roles/{principal}",
            Perm(Permission::ManageRoles, Scope::PathNamespace),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/{namespace}/roles/{principal}",
            Perm(Permission::ManageRoles, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/uploads",
            Perm(Permission::Publish, Scope::Somewhere),
        ),
        (
            "POST",
            "/api/v1/uploads/plan",
            Perm(Permission::Publish, Scope::Somewhere),
        ),
        (
            "PATCH",
            "/api/v1/uploads/{id}",
            Perm(Permission::Publish, Scope::Somewhere),
        ),
        (
            "GET",
            "/api/v1/uploads/{id}",
            Perm(Permission::Publish, Scope::Somewhere),
        ),
        (
            "PUT",
            "/api/v1/uploads/{id}",
            Perm(Permission::Publish, Scope::Somewhere),
        ),
        (
            "DELETE",
            "/api/v1/uploads/{id}",
            Perm(Permission::Publish, Scope::Somewhere),
        ),
        ("GET", "/api/v1/blobs/{digest}", Authn),
        ("HEAD", "/api/v1/blobs/{digest}", Authn),
        ("GET", "/api/v1/models", Authn),
        (
            "GET",
            "/api/v1/models/{model}",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions",
            Perm(Permission::Publish, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/manifest",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/labels",
            Perm(Permission::Publish, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/deprecate",
            Perm(Permission::Maintain, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/archive",
            Perm(Permission::Maintain, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/aliases",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "PUT",
            "/api/v1/models/{model}/aliases/{alias}",
            Perm(Permission::Maintain, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/aliases/{alias}/history",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/signatures",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/signatures",
            Perm(Permission::Publish, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/signatures/{digest}",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/namespaces/{namespace}/keys",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/namespaces/{namespace}/keys",
            Perm(Permission::Maintain, Scope::PathNamespace),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/{namespace}/keys/{fingerprint}",
            Perm(Permission::Maintain, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/attestations",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/attestations",
            Perm(Permission::Publish, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/attestations/{digest}",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/findings",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        ("GET", "/api/v1/vulndb", Authn),
        (
            "POST",
            "/api/v1/vulndb/import",
            Perm(Permission::Admin, Scope::Everywhere),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/provenance",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/provenance",
            Perm(Permission::Publish, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/models/{model}/versions/{number}/lineage",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        ("GET", "/api/v1/impact", Authn),
        (
            "GET",
            "/api/v1/log/versions",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/admin/log/records",
            Perm(Permission::Audit, Scope::Everywhere),
        ),
        (
            "GET",
            "/api/v1/admin/log/events",
            Perm(Permission::Audit, Scope::Everywhere),
        ),
        (
            "GET",
            "/api/v1/admin/access-events",
            Perm(Permission::Audit, Scope::Everywhere),
        ),
        ("GET", "/api/v1/versions", Authn),
        ("GET", "/api/v1/search", Authn),
        (
            "GET",
            "/api/v1/resolve",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "POST",
            "/api/v1/gate",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/policy/input",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        (
            "GET",
            "/api/v1/decisions",
            Perm(Permission::Read, Scope::PathNamespace),
        ),
        ("GET", "/api/v1/policies", Authn),
        // Each model the reviewed workload names must be readable by the
        // webhook's credential, else the review is denied (not 403).
        ("POST", "/admission", Authn),
    ]
};

/// What a route in [`ROUTES`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteNeed {
    /// No token.
    Public,
    /// A token; results filtered to what the caller may read.
    Authn,
    /// A permission, and where it must hold: in the namespace the route
    /// names (in its path, or its `ref` query), in some namespace (uploads),
    /// or everywhere (the audit trail; `Admin` is global).
    Perm(Permission, Scope),
}

/// The served permission matrix.
pub fn matrix() -> provenant_api::PermissionMatrix {
    let mut roles: Vec<provenant_api::RolePermissions> = provenant_api::NamespaceRole::ALL
        .iter()
        .map(|r| provenant_api::RolePermissions {
            role: r.as_str().to_owned(),
            permissions: r.permissions().to_vec(),
        })
        .collect();
    roles.push(provenant_api::RolePermissions {
        role: "admin".into(),
        permissions: Permission::ALL.to_vec(),
    });
    provenant_api::PermissionMatrix {
        roles,
        routes: ROUTES
            .iter()
            .map(|(method, path, need)| RoutePermission {
                method: (*method).to_owned(),
                path: (*path).to_owned(),
                permission: match need {
                    RouteNeed::Perm(p, _) => Some(*p),
                    _ => None,
                },
                scope: match need {
                    RouteNeed::Perm(Permission::Admin, _) => Some("global".to_owned()),
                    RouteNeed::Perm(_, scope) => Some(scope.as_str().to_owned()),
                    _ => None,
                },
                public: *need == RouteNeed::Public,
            })
            .collect(),
    }
}
