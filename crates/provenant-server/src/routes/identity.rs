//! Who the caller is, tokens, principals, namespaces and roles, the
//! permission matrix, and the access part of the audit trail.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use provenant_api::{
    AccessEventView, CredentialView, NamespaceBody, NamespaceView, PermissionMatrix, PrincipalBody,
    PrincipalView, RoleBindingView, RoleBody, TokenBody, TokenCreated, TokenView, WhoAmI,
};
use provenant_registry::{Credential, rfc3339};

use super::JsonResult;
use crate::api_error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::authz::{Authenticated, CanAudit, CanManageRoles, CanRead, IsAdmin, RequestInfo};
use crate::state::AppState;

/// A registry answer, with its refusals (what the caller's rights do not
/// allow: a wider token, another's token, a role in `*`) recorded in the
/// access trail like the extractors' denials.
async fn recorded<T>(
    state: &AppState,
    p: &Principal,
    request: &RequestInfo,
    answer: Result<T, provenant_registry::RegistryError>,
) -> Result<T, ApiError> {
    if let Err(provenant_registry::RegistryError::Forbidden { reason }) = &answer {
        crate::authz::deny(state, request, p, reason).await;
    }
    Ok(answer?)
}

/// The caller's identity: principal, roles in force, credential and expiry.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = crate::api_error::ErrorBody)))]
pub async fn whoami(Authenticated(p): Authenticated) -> Json<WhoAmI> {
    let c = &p.caller;
    let credential = match &c.credential {
        Credential::Token {
            id,
            name,
            expires_at,
            scopes,
        } => CredentialView {
            kind: "token".into(),
            name: name.clone(),
            token_id: Some(*id),
            expires_at: expires_at.map(rfc3339),
            scopes: scopes.clone(),
        },
        Credential::Workload {
            service_account,
            expires_at,
            ..
        } => CredentialView {
            kind: "oidc".into(),
            name: service_account.clone(),
            token_id: None,
            expires_at: Some(rfc3339(*expires_at)),
            scopes: Vec::new(),
        },
    };
    let admin = c.allows(
        provenant_api::Permission::Admin,
        provenant_api::ALL_NAMESPACES,
    );
    Json(WhoAmI {
        name: c.name.clone(),
        role: if admin { "admin" } else { c.kind.as_str() }.to_owned(),
        kind: c.kind,
        admin,
        roles: c.roles_in_force(),
        credential,
    })
}

/// The permission matrix: what each role allows, and what each route needs.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = PermissionMatrix)))]
pub async fn permissions(_: Authenticated) -> Json<PermissionMatrix> {
    Json(crate::authz::matrix())
}

/// The caller's tokens (`?all=true`: everyone's, admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    params(("all" = Option<bool>, Query, description = "every principal's tokens (admin)")),
    responses((status = 200, body = Vec<TokenView>), (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    request: RequestInfo,
    RawQuery(raw): RawQuery,
) -> JsonResult<Vec<TokenView>> {
    let mut all = false;
    for (k, v) in url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match (&*k, &*v) {
            ("all", "true") => all = true,
            ("all", "false") => all = false,
            _ => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("unknown query parameter {k}={v}: only all=true|false"),
                ));
            }
        }
    }
    let answer = state.registry.token_list(&p.caller, all).await;
    Ok(Json(recorded(&state, &p, &request, answer).await?))
}

/// Creates a token for the caller (or, admin, for `owner`): its secret is
/// in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    request_body = TokenBody,
    responses((status = 201, body = TokenCreated), (status = 403, body = crate::api_error::ErrorBody),
              (status = 409, body = crate::api_error::ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    request: RequestInfo,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let Json(body) = body?;
    let answer = state
        .registry
        .token_create(&p.caller, body, crate::auth::now_millis())
        .await;
    let created = recorded(&state, &p, &request, answer).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes one of the caller's tokens by id or name (admin: anyone's by id).
#[utoipa::path(delete, path = "/api/v1/tokens/{token}", tag = "identity", security(("bearer" = [])),
    params(("token" = String, Path, description = "id, or the name of one of the caller's tokens")),
    responses((status = 200, body = TokenView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    request: RequestInfo,
    Path(token): Path<String>,
) -> JsonResult<TokenView> {
    let answer = state.registry.token_revoke(&p.caller, &token).await;
    let view = recorded(&state, &p, &request, answer).await?;
    state.forget_credentials();
    Ok(Json(view))
}

/// Every principal with its roles (admin).
#[utoipa::path(get, path = "/api/v1/principals", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Vec<PrincipalView>), (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn list_principals(
    State(state): State<AppState>,
    _: IsAdmin,
) -> JsonResult<Vec<PrincipalView>> {
    Ok(Json(state.registry.principals().await?))
}

/// Creates a user or service account (admin).
#[utoipa::path(post, path = "/api/v1/principals", tag = "identity", security(("bearer" = [])),
    request_body = PrincipalBody,
    responses((status = 201, body = PrincipalView), (status = 409, body = crate::api_error::ErrorBody)))]
pub async fn create_principal(
    State(state): State<AppState>,
    admin: IsAdmin,
    body: Result<Json<PrincipalBody>, JsonRejection>,
) -> Result<(StatusCode, Json<PrincipalView>), ApiError> {
    let Json(body) = body?;
    let view = state
        .registry
        .principal_create(&admin.principal.caller, &body.name, body.kind, body.admin)
        .await?;
    state.forget_credentials();
    Ok((StatusCode::CREATED, Json(view)))
}

/// The namespaces the caller may read, with its role in each.
#[utoipa::path(get, path = "/api/v1/namespaces", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Vec<NamespaceView>)))]
pub async fn list_namespaces(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> JsonResult<Vec<NamespaceView>> {
    Ok(Json(state.registry.namespaces(&p.caller).await?))
}

/// Creates a namespace, its owner becoming its maintainer (admin).
#[utoipa::path(post, path = "/api/v1/namespaces", tag = "identity", security(("bearer" = [])),
    request_body = NamespaceBody,
    responses((status = 201, body = NamespaceView), (status = 409, body = crate::api_error::ErrorBody)))]
pub async fn create_namespace(
    State(state): State<AppState>,
    admin: IsAdmin,
    body: Result<Json<NamespaceBody>, JsonRejection>,
) -> Result<(StatusCode, Json<NamespaceView>), ApiError> {
    let Json(body) = body?;
    let view = state
        .registry
        .namespace_create(&admin.principal.caller, &body.name, body.owner.as_deref())
        .await?;
    state.forget_credentials();
    Ok((StatusCode::CREATED, Json(view)))
}

/// Who holds which role in a namespace.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/roles", tag = "identity", security(("bearer" = [])),
    params(("namespace" = String, Path)),
    responses((status = 200, body = Vec<RoleBindingView>), (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn list_roles(
    State(state): State<AppState>,
    allowed: CanRead,
) -> JsonResult<Vec<RoleBindingView>> {
    Ok(Json(
        state.registry.role_bindings(&allowed.namespace).await?,
    ))
}

/// Grants a principal a role in a namespace (replacing its role there).
#[utoipa::path(put, path = "/api/v1/namespaces/{namespace}/roles/{principal}", tag = "identity", security(("bearer" = [])),
    params(("namespace" = String, Path), ("principal" = String, Path)),
    request_body = RoleBody,
    responses((status = 200, body = RoleBindingView), (status = 403, body = crate::api_error::ErrorBody),
              (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn grant_role(
    State(state): State<AppState>,
    allowed: CanManageRoles,
    request: RequestInfo,
    Path((_namespace, principal)): Path<(String, String)>,
    body: Result<Json<RoleBody>, JsonRejection>,
) -> JsonResult<RoleBindingView> {
    let Json(body) = body?;
    let answer = state
        .registry
        .role_grant(
            &allowed.principal.caller,
            &allowed.namespace,
            &principal,
            body.role,
        )
        .await;
    let view = recorded(&state, &allowed.principal, &request, answer).await?;
    state.forget_credentials();
    Ok(Json(view))
}

/// Takes away a principal's role in a namespace.
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/roles/{principal}", tag = "identity", security(("bearer" = [])),
    params(("namespace" = String, Path), ("principal" = String, Path)),
    responses((status = 200, body = RoleBindingView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn revoke_role(
    State(state): State<AppState>,
    allowed: CanManageRoles,
    request: RequestInfo,
    Path((_namespace, principal)): Path<(String, String)>,
) -> JsonResult<RoleBindingView> {
    let answer = state
        .registry
        .role_revoke(&allowed.principal.caller, &allowed.namespace, &principal)
        .await;
    let role = recorded(&state, &allowed.principal, &request, answer).await?;
    state.forget_credentials();
    Ok(Json(RoleBindingView {
        namespace: allowed.namespace,
        principal,
        role,
        granted_at: String::new(),
        granted_by: String::new(),
    }))
}

/// Authentication failures, permission denials and identity changes
/// (auditor or admin): the access part of the audit trail.
#[utoipa::path(get, path = "/api/v1/admin/access-events", tag = "audit", security(("bearer" = [])),
    params(("since" = Option<i64>, Query, description = "Unix ms"),
           ("after" = Option<i64>, Query, description = "id to continue after"),
           ("limit" = Option<i64>, Query, description = "1 to 10000, default 1000")),
    responses((status = 200, body = Vec<AccessEventView>), (status = 403, body = crate::api_error::ErrorBody)))]
pub async fn access_events(
    State(state): State<AppState>,
    _: CanAudit,
    RawQuery(raw): RawQuery,
) -> JsonResult<Vec<AccessEventView>> {
    let (since, after, limit) = super::log::since_after_limit(raw.as_deref())?;
    Ok(Json(
        state.registry.access_events(since, after, limit).await?,
    ))
}
