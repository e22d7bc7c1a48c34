//! Identities and access: principals, tokens, roles per namespace, the
//! permission matrix, and the authentication and authorisation records of the
//! audit trail.

use std::fmt;
use std::str::FromStr;

/// What a principal may be granted in a namespace. `admin` is global: it is
/// a property of the principal, never a role in a namespace.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceRole {
    /// Read models, versions, files, signatures, attestations and findings.
    Viewer,
    /// A viewer who also pushes versions, sets labels and attaches
    /// signatures, SBOMs and provenance.
    Publisher,
    /// A publisher who also moves aliases, deprecates and archives versions,
    /// manages the namespace's trusted keys and grants roles in it.
    Maintainer,
    /// Reads everything, exports the audit trail and reads full log entries;
    /// writes nothing.
    Auditor,
}

impl NamespaceRole {
    pub const ALL: [Self; 4] = [
        Self::Viewer,
        Self::Publisher,
        Self::Maintainer,
        Self::Auditor,
    ];

    /// The word the API, the CLI and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Publisher => "publisher",
            Self::Maintainer => "maintainer",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What the role allows, in the namespaces it is granted in.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission as P;
        match self {
            Self::Viewer => &[P::Read],
            Self::Publisher => &[P::Read, P::Publish],
            Self::Maintainer => &[P::Read, P::Publish, P::Maintain, P::ManageRoles],
            Self::Auditor => &[P::Read, P::Audit],
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

impl fmt::Display for NamespaceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that names no role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown role {:?}: use viewer, publisher, maintainer or auditor",
            self.0
        )
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for NamespaceRole {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// One thing a route asks of its caller. Every authenticated route needs
/// exactly one of these (or only authentication), checked in one place.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read a namespace's models and everything about their versions.
    Read,
    /// Push versions, set labels, attach bundles (and upload blobs).
    Publish,
    /// Move aliases, deprecate and archive, manage trusted keys.
    Maintain,
    /// Grant and revoke roles in the namespace.
    ManageRoles,
    /// The audit trail, full log entries and authentication records.
    Audit,
    /// Principals, other principals' tokens, namespaces, the vulnerability
    /// database: global administration.
    Admin,
}

impl Permission {
    pub const ALL: [Self; 6] = [
        Self::Read,
        Self::Publish,
        Self::Maintain,
        Self::ManageRoles,
        Self::Audit,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Publish => "publish",
            Self::Maintain => "maintain",
            Self::ManageRoles => "manage_roles",
            Self::Audit => "audit",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The namespace a grant applies to: one namespace, or every namespace
/// (`*`, e.g. an organisation-wide auditor).
pub const ALL_NAMESPACES: &str = "*";

/// What kind of identity a principal is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person.
    User,
    /// A machine account (a CI pipeline, a deployment controller); workload
    /// identities map to one.
    Service,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role in a namespace (or in every namespace, `*`).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct Grant {
    pub namespace: String,
    pub role: NamespaceRole,
}

/// A principal as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PrincipalView {
    pub name: String,
    pub kind: PrincipalKind,
    /// Global administrator.
    pub admin: bool,
    pub roles: Vec<Grant>,
    pub created_at: String,
    pub created_by: String,
}

/// `POST /api/v1/principals` (admin).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalBody {
    pub name: String,
    #[serde(default = "user_kind")]
    pub kind: PrincipalKind,
    #[serde(default)]
    pub admin: bool,
}

fn user_kind() -> PrincipalKind {
    PrincipalKind::User
}

/// A token as listed: never its secret.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    /// The principal the token acts as.
    pub owner: String,
    /// What the token is limited to; empty: everything its owner may do.
    pub scopes: Vec<Grant>,
    pub created_at: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    /// The principal the token is for; default the caller. Another
    /// principal's token needs `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Limits the token to these roles (each within its owner's own).
    #[serde(default)]
    pub scopes: Vec<Grant>,
    /// Lifetime in seconds; none: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// A created token: the only time its secret is shown.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub view: TokenView,
    /// `pvt_…`: shown once, stored only as a hash.
    pub token: String,
}

/// `POST /api/v1/namespaces` (admin).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceBody {
    pub name: String,
    /// Principal made the namespace's first maintainer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// A namespace as listed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NamespaceView {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub created_at: String,
    /// The caller's own role in it, if any (admins and `*` grants see all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<NamespaceRole>,
}

/// `PUT /api/v1/namespaces/{namespace}/roles/{principal}`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: NamespaceRole,
}

/// Who holds which role in a namespace.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RoleBindingView {
    pub namespace: String,
    pub principal: String,
    pub role: NamespaceRole,
    pub granted_at: String,
    pub granted_by: String,
}

/// The token or workload identity a request authenticated with.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CredentialView {
    /// `token` or `oidc`.
    pub kind: String,
    /// The token's name, or the workload identity.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// What the token is limited to; empty: everything its owner may do.
    #[serde(default)]
    pub scopes: Vec<Grant>,
}

/// Who the caller is.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// The principal's name: what the log and audit records say.
    pub name: String,
    /// `admin` for a global administrator, else `user`/`service`'s roles
    /// apply (kept for scripts written before roles existed).
    pub role: String,
    pub kind: PrincipalKind,
    pub admin: bool,
    /// Roles in force for this request (a scoped token's limits applied).
    pub roles: Vec<Grant>,
    pub credential: CredentialView,
}

/// One row of the permission matrix: what a role allows.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RolePermissions {
    /// A namespace role, or `admin`.
    pub role: String,
    pub permissions: Vec<Permission>,
}

/// One route and the permission it needs (`null`: authentication only,
/// results filtered to what the caller may read; `public`: no token).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RoutePermission {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<Permission>,
    /// Where the permission must hold: `namespace` (the one the route names,
    /// in its path or its `ref` query), `some_namespace` (uploads, which
    /// precede the publish that names one), `every_namespace` (a role in
    /// `*`: the audit trail), `global` (admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default)]
    pub public: bool,
}

/// `GET /api/v1/permissions`: the documented matrix, as the server enforces it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PermissionMatrix {
    pub roles: Vec<RolePermissions>,
    pub routes: Vec<RoutePermission>,
}

/// An authentication failure or a permission denial, as the audit trail
/// keeps it (never in the public log).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AccessEventView {
    pub id: i64,
    pub at: String,
    /// `authentication_failed` or `permission_denied`.
    pub kind: String,
    /// The principal, when it was known (denials); empty for failures.
    pub principal: String,
    /// What was presented: a token's prefix, a JWT's issuer and subject.
    pub credential: String,
    /// Source address.
    pub peer: String,
    pub method: String,
    pub path: String,
    /// Stable error code answered (`unauthorized`, `forbidden`, …).
    pub code: String,
    pub reason: String,
}
