//! Identities and access: principals, API tokens, roles per namespace and
//! what a caller may do ([`Caller`]), decided here and nowhere else.
//!
//! A request is made by a [`Caller`]: a principal (a user or service account,
//! or a CI workload mapped to a service account) through a credential (an API
//! token, possibly limited by scopes, or an OIDC identity token). What it may
//! do in a namespace is the union of the permissions of its roles there and
//! in `*`; a scoped token keeps only what both its owner and its scopes
//! allow. Global administrators may do everything unless their token is
//! scoped.

use std::collections::BTreeMap;

use base64::Engine as _;
use provenant_store::{AccessEventRow, GrantRow, NewToken, PrincipalRow, TokenRow};
use sha2::Digest as _;

pub use provenant_api::{
    ALL_NAMESPACES, Grant, NamespaceRole, Permission, PrincipalKind, PrincipalView,
    RoleBindingView, TokenView,
};

use crate::service::rfc3339;
use crate::{Registry, RegistryError};

/// Prefix of every API token.
pub const TOKEN_PREFIX: &str = "pvt_";

/// A fresh token: `pvt_` + base64url(32 random bytes).
pub fn generate_token() -> Result<String, RegistryError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RegistryError::Internal {
        reason: format!("random number generator: {e}"),
    })?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Whether `token` has the shape of one [`generate_token`] makes.
pub fn is_token_shaped(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(rest)
                .is_ok_and(|b| b.len() == 32)
    })
}

/// Hex SHA-256 of a token: all the registry keeps of it.
pub fn hash_token(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A set of [`Permission`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Permissions(u8);

impl Permissions {
    pub const ALL: Self = Self(0x3f);

    fn bit(p: Permission) -> u8 {
        match p {
            Permission::Read => 1,
            Permission::Publish => 2,
            Permission::Maintain => 4,
            Permission::ManageRoles => 8,
            Permission::Audit => 16,
            Permission::Admin => 32,
        }
    }

    pub fn of(role: NamespaceRole) -> Self {
        Self(
            role.permissions()
                .iter()
                .fold(0, |acc, p| acc | Self::bit(*p)),
        )
    }

    pub fn has(self, p: Permission) -> bool {
        self.0 & Self::bit(p) != 0
    }

    fn union(self, o: Self) -> Self {
        Self(self.0 | o.0)
    }

    fn intersect(self, o: Self) -> Self {
        Self(self.0 & o.0)
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// How a caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Token {
        id: i64,
        name: String,
        /// Unix milliseconds.
        expires_at: Option<i64>,
        scopes: Vec<Grant>,
    },
    /// An OIDC identity token of a CI workload.
    Workload {
        issuer: String,
        subject: String,
        /// The service account the mapping rule named.
        service_account: String,
        /// Unix milliseconds (the token's `exp`).
        expires_at: i64,
    },
}

/// Who is calling and what it may do, settled once per request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// What the log and every record name: the principal, or for a
    /// workload its identity (`github:org/repo:…@refs/heads/main`).
    pub name: String,
    pub kind: PrincipalKind,
    /// The principal's row, when it has one (a workload's service account
    /// may have none).
    pub principal_id: Option<i64>,
    /// A global administrator (before any scope).
    pub admin: bool,
    /// The principal's roles (before any scope).
    pub roles: Vec<Grant>,
    pub credential: Credential,
    /// What it may do, per namespace (`*`: in every namespace).
    effective: BTreeMap<String, Permissions>,
    /// Everything everywhere: an administrator with an unscoped credential.
    superuser: bool,
}

/// The namespaces whose content a caller may read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Visibility {
    #[default]
    All,
    Only(Vec<String>),
}

impl Visibility {
    /// For store queries: `None` is every namespace.
    pub fn names(&self) -> Option<&[String]> {
        match self {
            Self::All => None,
            Self::Only(n) => Some(n),
        }
    }

    pub fn includes(&self, namespace: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(n) => n.iter().any(|x| x == namespace),
        }
    }
}

fn grants_map(grants: &[Grant]) -> BTreeMap<String, Permissions> {
    let mut m: BTreeMap<String, Permissions> = BTreeMap::new();
    for g in grants {
        let e = m.entry(g.namespace.clone()).or_default();
        *e = e.union(Permissions::of(g.role));
    }
    m
}

impl Caller {
    /// A caller from its principal's standing and its credential's scopes
    /// (none: the principal's own rights).
    pub fn new(
        name: String,
        kind: PrincipalKind,
        principal_id: Option<i64>,
        admin: bool,
        roles: Vec<Grant>,
        credential: Credential,
    ) -> Self {
        let own = grants_map(&roles);
        let scopes = match &credential {
            Credential::Token { scopes, .. } if !scopes.is_empty() => Some(grants_map(scopes)),
            _ => None,
        };
        let (effective, superuser) = match scopes {
            None => (own, admin),
            Some(scopes) => {
                // Each scope keeps what the owner holds there (or in `*`).
                let mut eff = BTreeMap::new();
                for (ns, sp) in scopes {
                    let held = if admin {
                        Permissions::ALL
                    } else if ns == ALL_NAMESPACES {
                        own.get(ALL_NAMESPACES).copied().unwrap_or_default()
                    } else {
                        own.get(&ns)
                            .copied()
                            .unwrap_or_default()
                            .union(own.get(ALL_NAMESPACES).copied().unwrap_or_default())
                    };
                    let p = sp.intersect(held);
                    if !p.is_empty() {
                        eff.insert(ns, p);
                    }
                }
                (eff, false)
            }
        };
        let workload = matches!(credential, Credential::Workload { .. });
        let mut caller = Self {
            name,
            kind,
            principal_id,
            admin,
            roles,
            credential,
            effective,
            superuser,
        };
        caller.expand_star_scope();
        if workload {
            // A pipeline's identity lasts minutes; roles it granted would
            // outlast it. Roles are granted by people (or admins).
            let keep = Permissions(Permissions::ALL.0 & !Permissions::bit(Permission::ManageRoles));
            for p in caller.effective.values_mut() {
                *p = p.intersect(keep);
            }
        }
        caller
    }

    /// A `*` scope on a token whose owner holds roles only in some
    /// namespaces grants, in each of those, what both allow.
    fn expand_star_scope(&mut self) {
        let Credential::Token { scopes, .. } = &self.credential else {
            return;
        };
        if self.admin || scopes.is_empty() {
            return;
        }
        let star: Permissions = scopes
            .iter()
            .filter(|g| g.namespace == ALL_NAMESPACES)
            .fold(Permissions::default(), |a, g| {
                a.union(Permissions::of(g.role))
            });
        if star.is_empty() {
            return;
        }
        for (ns, held) in grants_map(&self.roles) {
            if ns == ALL_NAMESPACES {
                continue;
            }
            let p = held.intersect(star);
            if !p.is_empty() {
                let e = self.effective.entry(ns).or_default();
                *e = e.union(p);
            }
        }
    }

    /// What the caller may do in `namespace`.
    pub fn permissions_in(&self, namespace: &str) -> Permissions {
        if self.superuser {
            return Permissions::ALL;
        }
        let star = self
            .effective
            .get(ALL_NAMESPACES)
            .copied()
            .unwrap_or_default();
        self.effective
            .get(namespace)
            .copied()
            .unwrap_or_default()
            .union(star)
    }

    /// Whether the caller may do `p` in `namespace`. `Admin` is global:
    /// only an administrator's unscoped credential has it.
    pub fn allows(&self, p: Permission, namespace: &str) -> bool {
        if p == Permission::Admin {
            return self.superuser;
        }
        self.permissions_in(namespace).has(p)
    }

    /// Whether the caller may do `p` somewhere (uploads, which precede the
    /// namespace a publish names).
    pub fn allows_somewhere(&self, p: Permission) -> bool {
        self.superuser || self.effective.values().any(|s| s.has(p))
    }

    /// Whether the caller may do `p` in every namespace (the audit trail).
    pub fn allows_everywhere(&self, p: Permission) -> bool {
        if p == Permission::Admin {
            return self.superuser;
        }
        self.superuser || self.effective.get(ALL_NAMESPACES).is_some_and(|s| s.has(p))
    }

    /// The namespaces whose content the caller may read.
    pub fn visibility(&self) -> Visibility {
        if self.allows_everywhere(Permission::Read) {
            return Visibility::All;
        }
        Visibility::Only(
            self.effective
                .iter()
                .filter(|(ns, p)| *ns != ALL_NAMESPACES && p.has(Permission::Read))
                .map(|(ns, _)| ns.clone())
                .collect(),
        )
    }

    /// The roles in force, for `whoami`: the principal's, or a scoped
    /// token's scopes that its owner holds.
    pub fn roles_in_force(&self) -> Vec<Grant> {
        match &self.credential {
            Credential::Token { scopes, .. } if !scopes.is_empty() => scopes
                .iter()
                .filter(|g| {
                    g.role
                        .permissions()
                        .iter()
                        .all(|p| self.allows(*p, &g.namespace))
                })
                .cloned()
                .collect(),
            _ => self.roles.clone(),
        }
    }

    /// A scoped token, or a workload: either cannot mint unscoped tokens.
    pub fn is_limited(&self) -> bool {
        match &self.credential {
            Credential::Token { scopes, .. } => !scopes.is_empty(),
            Credential::Workload { .. } => true,
        }
    }
}

/// Why a bearer token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("unknown token")]
    Unknown,
    #[error("token has expired")]
    Expired,
    #[error("token has been revoked")]
    Revoked,
}

fn parse_role(role: &str, table: &str) -> Result<NamespaceRole, RegistryError> {
    NamespaceRole::parse(role).ok_or_else(|| {
        RegistryError::Store(provenant_store::StoreError::Corrupt(format!(
            "{table}.role holds {role:?}, not a role"
        )))
    })
}

fn parse_kind(kind: &str) -> Result<PrincipalKind, RegistryError> {
    PrincipalKind::parse(kind).ok_or_else(|| {
        RegistryError::Store(provenant_store::StoreError::Corrupt(format!(
            "principals.kind holds {kind:?}, not user or service"
        )))
    })
}

fn grants_of(rows: Vec<GrantRow>, table: &str) -> Result<Vec<Grant>, RegistryError> {
    rows.into_iter()
        .map(|g| {
            Ok(Grant {
                role: parse_role(&g.role, table)?,
                namespace: g.namespace,
            })
        })
        .collect()
}

/// Principal and token names: 1 to 128 printable ASCII characters, no
/// spaces, not starting with `-`; workload names are made by the server.
pub fn validate_principal_name(what: &'static str, name: &str) -> Result<(), RegistryError> {
    let bad = |reason: &str| RegistryError::InvalidName {
        what,
        value: name.chars().take(140).collect(),
        reason: reason.to_owned(),
    };
    if name.is_empty() || name.len() > 128 {
        return Err(bad("must be 1 to 128 characters"));
    }
    if name.starts_with('-') {
        return Err(bad("must not start with '-'"));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(bad(&format!(
            "character {c:?} not allowed (printable ASCII, no spaces)"
        )));
    }
    Ok(())
}

/// A namespace named in a grant: a namespace name, or `*`.
fn validate_grant_namespace(ns: &str) -> Result<(), RegistryError> {
    if ns == ALL_NAMESPACES {
        return Ok(());
    }
    // A namespace is what precedes a model name's last segment.
    crate::ModelName::parse(&format!("{ns}/x"))
        .map(|_| ())
        .map_err(|_| RegistryError::InvalidName {
            what: "namespace",
            value: ns.chars().take(140).collect(),
            reason: "expected lowercase segments (a-z, 0-9, '.', '_', '-') separated by '/', or *"
                .into(),
        })
}

fn forbidden(reason: impl Into<String>) -> RegistryError {
    RegistryError::Forbidden {
        reason: reason.into(),
    }
}

fn token_view(t: &TokenRow, scopes: Vec<Grant>) -> TokenView {
    TokenView {
        id: t.id,
        name: t.name.clone(),
        owner: t.owner.clone(),
        scopes,
        created_at: rfc3339(t.created_at),
        created_by: t.created_by.clone(),
        expires_at: t.expires_at.map(rfc3339),
        revoked_at: t.revoked_at.map(rfc3339),
    }
}

/// A workload the OIDC verifier vouched for, as the registry takes it.
#[derive(Clone, Debug)]
pub struct WorkloadIdentity {
    pub principal: String,
    pub service_account: String,
    pub grants: Vec<Grant>,
    pub issuer: String,
    pub subject: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

impl Registry {
    /// The caller a bearer token (given by its hash) authenticates, at `now`
    /// (Unix ms).
    pub async fn authenticate_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Result<Caller, TokenRefusal>, RegistryError> {
        let Some(t) = self.store.token_by_hash(hash).await? else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        // The lookup was by an index on the hash; compare in constant time.
        use subtle::ConstantTimeEq as _;
        if !bool::from(t.hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(Err(TokenRefusal::Unknown));
        }
        if t.revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Revoked));
        }
        if t.expires_at.is_some_and(|e| e <= now) {
            return Ok(Err(TokenRefusal::Expired));
        }
        let Some(pid) = t.principal_id else {
            return Err(RegistryError::Store(provenant_store::StoreError::Corrupt(
                format!("tokens row {} has no principal", t.id),
            )));
        };
        let Some(p) = self.store.principal_by_id(pid).await? else {
            return Err(RegistryError::Store(provenant_store::StoreError::Corrupt(
                format!("tokens row {} names missing principal {pid}", t.id),
            )));
        };
        let roles = grants_of(self.store.principal_grants(pid).await?, "role_bindings")?;
        let scopes = grants_of(self.store.token_scopes(t.id).await?, "token_scopes")?;
        Ok(Ok(Caller::new(
            p.name,
            parse_kind(&p.kind)?,
            Some(pid),
            p.admin,
            roles,
            Credential::Token {
                id: t.id,
                name: t.name,
                expires_at: t.expires_at,
                scopes,
            },
        )))
    }

    /// The caller a verified workload identity makes: the grants of its
    /// mapping rule, plus the roles of its service account if that
    /// principal exists (so roles can be granted to CI by name).
    pub async fn workload_caller(&self, w: WorkloadIdentity) -> Result<Caller, RegistryError> {
        let account = self.store.principal_by_name(&w.service_account).await?;
        let mut roles = w.grants.clone();
        let mut id = None;
        if let Some(a) = &account {
            roles.extend(grants_of(
                self.store.principal_grants(a.id).await?,
                "role_bindings",
            )?);
            id = Some(a.id);
        }
        roles.sort();
        roles.dedup();
        Ok(Caller::new(
            w.principal,
            PrincipalKind::Service,
            id,
            false,
            roles,
            Credential::Workload {
                issuer: w.issuer,
                subject: w.subject,
                service_account: w.service_account,
                expires_at: w.expires_at,
            },
        ))
    }

    /// Whether no token exists yet: the first start, when the bootstrap
    /// administrator's token is made (or taken from the operator).
    pub async fn needs_bootstrap(&self) -> Result<bool, RegistryError> {
        Ok(self.store.token_count().await? == 0)
    }

    /// First start: the administrator principal `admin` and its token
    /// (`token`, generated or given by the operator). Does nothing when any
    /// token exists; returns whether it stored this one.
    pub async fn bootstrap_admin(&self, token: &str) -> Result<bool, RegistryError> {
        if self.store.token_count().await? > 0 {
            return Ok(false);
        }
        let principal = match self.store.principal_by_name("admin").await? {
            Some(p) => p,
            None => self
                .store
                .principal_insert("admin", PrincipalKind::User.as_str(), true, "bootstrap")
                .await?
                .ok_or_else(|| forbidden("principal admin appeared while bootstrapping"))?,
        };
        self.store
            .token_insert(&NewToken {
                name: "admin",
                hash: &hash_token(token),
                principal_id: principal.id,
                scopes: &[],
                expires_at: None,
                created_by: "bootstrap",
            })
            .await?;
        Ok(true)
    }

    async fn principal_view(&self, p: PrincipalRow) -> Result<PrincipalView, RegistryError> {
        let roles = grants_of(self.store.principal_grants(p.id).await?, "role_bindings")?;
        Ok(PrincipalView {
            kind: parse_kind(&p.kind)?,
            name: p.name,
            admin: p.admin,
            roles,
            created_at: rfc3339(p.created_at),
            created_by: p.created_by,
        })
    }

    async fn principal_named(&self, name: &str) -> Result<PrincipalRow, RegistryError> {
        self.store
            .principal_by_name(name)
            .await?
            .ok_or_else(|| RegistryError::PrincipalNotFound(name.to_owned()))
    }

    /// Creates a user or service account (administrators only: the route
    /// checks `Admin`).
    pub async fn principal_create(
        &self,
        by: &Caller,
        name: &str,
        kind: PrincipalKind,
        admin: bool,
    ) -> Result<PrincipalView, RegistryError> {
        validate_principal_name("principal name", name)?;
        let p = self
            .store
            .principal_insert(name, kind.as_str(), admin, &by.name)
            .await?
            .ok_or_else(|| RegistryError::PrincipalExists(name.to_owned()))?;
        self.access_record(
            by,
            "principal_created",
            name,
            &format!("{kind}, admin: {admin}"),
        )
        .await;
        self.principal_view(p).await
    }

    pub async fn principals(&self) -> Result<Vec<PrincipalView>, RegistryError> {
        let mut out = Vec::new();
        for p in self.store.principals().await? {
            out.push(self.principal_view(p).await?);
        }
        Ok(out)
    }

    /// Creates a token for the caller, or (administrators) for another
    /// principal. Its scopes must lie within what the caller may do itself;
    /// a limited caller (scoped token, workload) can only make scoped tokens
    /// within its own limits, and a workload none at all.
    pub async fn token_create(
        &self,
        by: &Caller,
        body: provenant_api::TokenBody,
        now: i64,
    ) -> Result<provenant_api::TokenCreated, RegistryError> {
        validate_principal_name("token name", &body.name)?;
        if matches!(by.credential, Credential::Workload { .. }) {
            return Err(forbidden(
                "a workload identity cannot create tokens: it authenticates with its identity token",
            ));
        }
        let owner = match body.owner.as_deref() {
            None => by.name.as_str(),
            Some(o) => o,
        };
        if owner != by.name && !by.allows(Permission::Admin, ALL_NAMESPACES) {
            return Err(forbidden(format!(
                "creating a token for {owner} needs admin"
            )));
        }
        let owner = self.principal_named(owner).await?;
        for g in &body.scopes {
            validate_grant_namespace(&g.namespace)?;
        }
        if by.is_limited() && body.scopes.is_empty() {
            return Err(forbidden(
                "a scoped token can only create tokens with scopes (--namespace/--role) within its own",
            ));
        }
        // The new token's scopes must be within the caller's rights (and,
        // for another owner, within that owner's, which enforcement
        // applies anyway).
        for g in &body.scopes {
            let within = g.role.permissions().iter().all(|p| {
                if g.namespace == ALL_NAMESPACES {
                    by.allows_everywhere(*p)
                } else {
                    by.allows(*p, &g.namespace)
                }
            });
            if !within {
                return Err(forbidden(format!(
                    "scope {} in {} exceeds what {} may do",
                    g.role, g.namespace, by.name
                )));
            }
        }
        let expires_at = match body.expires_in {
            None => None,
            Some(0) => {
                return Err(RegistryError::InvalidInput {
                    value: "0".into(),
                    reason: "expires_in must be at least one second".into(),
                });
            }
            Some(s) => Some(
                i64::try_from(s)
                    .ok()
                    .and_then(|s| s.checked_mul(1000))
                    .and_then(|ms| now.checked_add(ms))
                    .ok_or_else(|| RegistryError::InvalidInput {
                        value: s.to_string(),
                        reason: "expires_in is too far in the future".into(),
                    })?,
            ),
        };
        // A token never outlives the token that made it: a leaked
        // short-lived token cannot mint a lasting one.
        let expires_at = match (&by.credential, expires_at) {
            (
                Credential::Token {
                    expires_at: Some(parent),
                    ..
                },
                child,
            ) => Some(child.map_or(*parent, |c| c.min(*parent))),
            (_, child) => child,
        };
        let secret = generate_token()?;
        let scopes: Vec<GrantRow> = body
            .scopes
            .iter()
            .map(|g| GrantRow {
                namespace: g.namespace.clone(),
                role: g.role.as_str().to_owned(),
            })
            .collect();
        let id = self
            .store
            .token_insert(&NewToken {
                name: &body.name,
                hash: &hash_token(&secret),
                principal_id: owner.id,
                scopes: &scopes,
                expires_at,
                created_by: &by.name,
            })
            .await?
            .ok_or_else(|| {
                RegistryError::TokenExists(format!(
                    "{} already has a token named {}",
                    owner.name, body.name
                ))
            })?;
        let row = self
            .store
            .token_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::TokenNotFound(id.to_string()))?;
        let mut grants = body.scopes.clone();
        grants.sort();
        grants.dedup();
        self.access_record(
            by,
            "token_created",
            &format!("{}/{}", owner.name, body.name),
            &format!("token {id}"),
        )
        .await;
        Ok(provenant_api::TokenCreated {
            view: token_view(&row, grants),
            token: secret,
        })
    }

    /// The tokens a caller manages as its own: every token of its principal,
    /// or for a scoped token only itself (a token limited to reading one
    /// namespace must not list or revoke its owner's others); none for a
    /// workload.
    async fn own_tokens(&self, by: &Caller) -> Result<Vec<TokenRow>, RegistryError> {
        let (Some(pid), Credential::Token { id, .. }) = (by.principal_id, &by.credential) else {
            return Ok(Vec::new());
        };
        let mut rows = self.store.tokens_of(Some(pid)).await?;
        if by.is_limited() {
            rows.retain(|t| t.id == *id);
        }
        Ok(rows)
    }

    /// Tokens of the caller, or (`all`, administrators) of everyone.
    pub async fn token_list(
        &self,
        by: &Caller,
        all: bool,
    ) -> Result<Vec<TokenView>, RegistryError> {
        let rows = if all {
            if !by.allows(Permission::Admin, ALL_NAMESPACES) {
                return Err(forbidden("listing every principal's tokens needs admin"));
            }
            self.store.tokens_of(None).await?
        } else {
            self.own_tokens(by).await?
        };
        let mut out = Vec::with_capacity(rows.len());
        for t in rows {
            let scopes = grants_of(self.store.token_scopes(t.id).await?, "token_scopes")?;
            out.push(token_view(&t, scopes));
        }
        Ok(out)
    }

    /// Revokes a token by id or name: the caller's own, or (administrators)
    /// anyone's by id.
    pub async fn token_revoke(&self, by: &Caller, which: &str) -> Result<TokenView, RegistryError> {
        let admin = by.allows(Permission::Admin, ALL_NAMESPACES);
        let mine = self.own_tokens(by).await?;
        let found = if let Ok(id) = which.parse::<i64>() {
            match mine.iter().find(|t| t.id == id) {
                Some(t) => Some(t.clone()),
                None if admin => self.store.token_by_id(id).await?,
                None => None,
            }
        } else {
            // By name: the caller's unrevoked token of that name.
            mine.iter()
                .filter(|t| t.name == which)
                .max_by_key(|t| (t.revoked_at.is_none(), t.id))
                .cloned()
        };
        let t = found.ok_or_else(|| RegistryError::TokenNotFound(which.to_owned()))?;
        self.store.token_revoke(t.id).await?;
        let t = self.store.token_by_id(t.id).await?.unwrap_or(t);
        self.access_record(
            by,
            "token_revoked",
            &format!("{}/{}", t.owner, t.name),
            &format!("token {}", t.id),
        )
        .await;
        let scopes = grants_of(self.store.token_scopes(t.id).await?, "token_scopes")?;
        Ok(token_view(&t, scopes))
    }

    /// Creates a namespace, its owner becoming its maintainer.
    pub async fn namespace_create(
        &self,
        by: &Caller,
        name: &str,
        owner: Option<&str>,
    ) -> Result<provenant_api::NamespaceView, RegistryError> {
        if name == ALL_NAMESPACES {
            return Err(RegistryError::InvalidName {
                what: "namespace",
                value: name.into(),
                reason: "* names every namespace in grants; it cannot be created".into(),
            });
        }
        validate_grant_namespace(name)?;
        let owner = match owner {
            Some(o) => Some(self.principal_named(o).await?),
            None => None,
        };
        let row = self
            .store
            .namespace_create(
                name,
                owner.as_ref().map(|o| o.id),
                NamespaceRole::Maintainer.as_str(),
                &by.name,
            )
            .await?
            .ok_or_else(|| RegistryError::NamespaceExists(name.to_owned()))?;
        self.access_record(
            by,
            "namespace_created",
            name,
            &owner.map_or_else(|| "no owner".to_owned(), |o| format!("owner {}", o.name)),
        )
        .await;
        Ok(provenant_api::NamespaceView {
            role: by
                .roles_in_force()
                .iter()
                .find(|g| g.namespace == name)
                .map(|g| g.role),
            name: row.name,
            owner: row.owner,
            created_at: rfc3339(row.created_at),
        })
    }

    /// The namespaces the caller may read (all, for readers of `*`).
    pub async fn namespaces(
        &self,
        by: &Caller,
    ) -> Result<Vec<provenant_api::NamespaceView>, RegistryError> {
        let vis = by.visibility();
        let rows = self.store.namespaces(vis.names()).await?;
        let mine = by.roles_in_force();
        Ok(rows
            .into_iter()
            .map(|n| provenant_api::NamespaceView {
                role: mine.iter().find(|g| g.namespace == n.name).map(|g| g.role),
                name: n.name,
                owner: n.owner,
                created_at: rfc3339(n.created_at),
            })
            .collect())
    }

    /// Who holds roles in a namespace.
    pub async fn role_bindings(
        &self,
        namespace: &str,
    ) -> Result<Vec<RoleBindingView>, RegistryError> {
        validate_grant_namespace(namespace)?;
        self.store
            .role_bindings(namespace)
            .await?
            .into_iter()
            .map(|b| {
                Ok(RoleBindingView {
                    role: parse_role(&b.role, "role_bindings")?,
                    namespace: b.namespace,
                    principal: b.principal,
                    granted_at: rfc3339(b.granted_at),
                    granted_by: b.granted_by,
                })
            })
            .collect()
    }

    /// Gives `principal` `role` in `namespace` (replacing its role there).
    /// A maintainer grants within its namespace; `*` needs admin (the route
    /// checks `ManageRoles` in the namespace, which for `*` only `*`
    /// maintainers and administrators have).
    pub async fn role_grant(
        &self,
        by: &Caller,
        namespace: &str,
        principal: &str,
        role: NamespaceRole,
    ) -> Result<RoleBindingView, RegistryError> {
        validate_grant_namespace(namespace)?;
        if namespace == ALL_NAMESPACES && !by.allows(Permission::Admin, ALL_NAMESPACES) {
            return Err(forbidden(
                "a role in every namespace (*) is granted by an admin",
            ));
        }
        let p = self.principal_named(principal).await?;
        let previous = self
            .store
            .role_set(namespace, p.id, role.as_str(), &by.name)
            .await?;
        self.access_record(
            by,
            "role_granted",
            &format!("{namespace}:{principal}"),
            &match previous {
                Some(prev) => format!("{role} (was {prev})"),
                None => role.to_string(),
            },
        )
        .await;
        self.role_bindings(namespace)
            .await?
            .into_iter()
            .find(|b| b.principal == principal)
            .ok_or_else(|| RegistryError::PrincipalNotFound(principal.to_owned()))
    }

    /// Takes away `principal`'s role in `namespace`; the role it held.
    pub async fn role_revoke(
        &self,
        by: &Caller,
        namespace: &str,
        principal: &str,
    ) -> Result<NamespaceRole, RegistryError> {
        validate_grant_namespace(namespace)?;
        if namespace == ALL_NAMESPACES && !by.allows(Permission::Admin, ALL_NAMESPACES) {
            return Err(forbidden(
                "a role in every namespace (*) is revoked by an admin",
            ));
        }
        let p = self.principal_named(principal).await?;
        let removed = self
            .store
            .role_remove(namespace, p.id)
            .await?
            .ok_or_else(|| RegistryError::RoleNotFound {
                namespace: namespace.to_owned(),
                principal: principal.to_owned(),
            })?;
        self.access_record(
            by,
            "role_revoked",
            &format!("{namespace}:{principal}"),
            &removed,
        )
        .await;
        parse_role(&removed, "role_bindings")
    }

    /// Records a change to identities or roles in the access trail. A
    /// failure to record is logged, not fatal: the change itself is done.
    async fn access_record(&self, by: &Caller, kind: &str, target: &str, detail: &str) {
        let e = AccessEventRow {
            kind: kind.to_owned(),
            principal: by.name.clone(),
            credential: credential_label(&by.credential),
            path: target.to_owned(),
            code: "ok".into(),
            reason: detail.to_owned(),
            ..Default::default()
        };
        if let Err(err) = self.store.access_event_insert(&e).await {
            tracing::error!(error = %err, kind, target, "recording an access event failed");
        }
    }

    /// Appends an authentication failure or a permission denial.
    pub async fn access_event(&self, e: &AccessEventRow) -> Result<(), RegistryError> {
        self.store.access_event_insert(e).await?;
        Ok(())
    }

    /// The access trail, oldest first.
    pub async fn access_events(
        &self,
        since: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<provenant_api::AccessEventView>, RegistryError> {
        Ok(self
            .store
            .access_events(since, after, limit)
            .await?
            .into_iter()
            .map(|e| provenant_api::AccessEventView {
                id: e.id,
                at: rfc3339(e.at),
                kind: e.kind,
                principal: e.principal,
                credential: e.credential,
                peer: e.peer,
                method: e.method,
                path: e.path,
                code: e.code,
                reason: e.reason,
            })
            .collect())
    }
}

/// How a credential is named in the access trail (never its secret).
pub fn credential_label(c: &Credential) -> String {
    match c {
        Credential::Token { id, name, .. } => format!("token {id} ({name})"),
        Credential::Workload {
            issuer, subject, ..
        } => format!("oidc {issuer} sub={subject}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(ns: &str, role: NamespaceRole) -> Grant {
        Grant {
            namespace: ns.into(),
            role,
        }
    }

    fn token(scopes: Vec<Grant>) -> Credential {
        Credential::Token {
            id: 1,
            name: "t".into(),
            expires_at: None,
            scopes,
        }
    }

    fn caller(admin: bool, roles: Vec<Grant>, scopes: Vec<Grant>) -> Caller {
        Caller::new(
            "p".into(),
            PrincipalKind::User,
            Some(1),
            admin,
            roles,
            token(scopes),
        )
    }

    #[test]
    fn roles_allow_what_the_matrix_says() {
        use NamespaceRole::*;
        use Permission::*;
        for (role, allowed) in [
            (Viewer, vec![Read]),
            (Publisher, vec![Read, Publish]),
            (Maintainer, vec![Read, Publish, Maintain, ManageRoles]),
            (Auditor, vec![Read, Audit]),
        ] {
            let c = caller(false, vec![g("ops", role)], vec![]);
            for p in Permission::ALL {
                assert_eq!(c.allows(p, "ops"), allowed.contains(&p), "{role} {p}");
                assert!(!c.allows(p, "other"), "{role} {p} leaks to other");
            }
        }
    }

    #[test]
    fn scopes_only_narrow() {
        use NamespaceRole::*;
        // A maintainer's token scoped to viewer reads only.
        let c = caller(false, vec![g("ops", Maintainer)], vec![g("ops", Viewer)]);
        assert!(c.allows(Permission::Read, "ops"));
        assert!(!c.allows(Permission::Publish, "ops"));
        // A scope beyond the owner's roles grants nothing.
        let c = caller(
            false,
            vec![g("ops", Viewer)],
            vec![g("ops", Publisher), g("ml", Publisher)],
        );
        assert!(c.allows(Permission::Read, "ops"));
        assert!(!c.allows(Permission::Publish, "ops"));
        assert!(!c.allows(Permission::Read, "ml"));
        // An admin's scoped token is limited to its scopes, without admin.
        let c = caller(true, vec![], vec![g("ops", Publisher)]);
        assert!(c.allows(Permission::Publish, "ops"));
        assert!(!c.allows(Permission::Read, "ml"));
        assert!(!c.allows(Permission::Admin, ALL_NAMESPACES));
        assert_eq!(c.visibility(), Visibility::Only(vec!["ops".into()]));
        // A `*` scope over per-namespace roles applies where the owner holds them.
        let c = caller(
            false,
            vec![g("ops", Maintainer), g("ml", Viewer)],
            vec![g("*", Viewer)],
        );
        assert!(c.allows(Permission::Read, "ops") && c.allows(Permission::Read, "ml"));
        assert!(!c.allows(Permission::Publish, "ops"));
        assert!(!c.allows(Permission::Read, "other"));
    }

    #[test]
    fn star_roles_and_visibility() {
        let c = caller(false, vec![g("*", NamespaceRole::Auditor)], vec![]);
        assert!(c.allows(Permission::Read, "anything"));
        assert!(c.allows_everywhere(Permission::Audit));
        assert!(!c.allows(Permission::Publish, "anything"));
        assert_eq!(c.visibility(), Visibility::All);
        let c = caller(
            false,
            vec![
                g("a", NamespaceRole::Viewer),
                g("b", NamespaceRole::Publisher),
            ],
            vec![],
        );
        assert_eq!(
            c.visibility(),
            Visibility::Only(vec!["a".into(), "b".into()])
        );
        assert!(!c.allows_everywhere(Permission::Read));
        assert!(c.allows_somewhere(Permission::Publish));
        let admin = caller(true, vec![], vec![]);
        assert!(admin.allows(Permission::Admin, ALL_NAMESPACES));
        assert_eq!(admin.visibility(), Visibility::All);
    }

    #[test]
    fn workloads_never_manage_roles() {
        let c = Caller::new(
            "github:acme/train:.github/workflows/t.yml@refs/heads/main".into(),
            PrincipalKind::Service,
            None,
            false,
            vec![g("ops", NamespaceRole::Maintainer)],
            Credential::Workload {
                issuer: "https://issuer".into(),
                subject: "s".into(),
                service_account: "ci".into(),
                expires_at: 0,
            },
        );
        assert!(c.allows(Permission::Maintain, "ops"));
        assert!(c.allows(Permission::Publish, "ops"));
        assert!(!c.allows(Permission::ManageRoles, "ops"));
        assert!(c.is_limited());
    }

    #[test]
    fn token_shape() {
        let t = generate_token().unwrap();
        assert!(is_token_shaped(&t), "{t}");
        assert!(!is_token_shaped("pvt_short"));
        assert!(!is_token_shaped(&t.replace("pvt_", "pvx_")));
        assert_eq!(hash_token(&t).len(), 64);
    }
}

/// The namespace of `ns/name:N`, `ns/name#alias` or `ns/name@sha256:…`.
fn namespace_of_reference(r: &str) -> &str {
    let model = r.split([':', '#', '@']).next().unwrap_or(r);
    model.rsplit_once('/').map_or("", |(ns, _)| ns)
}

impl Visibility {
    /// Drops from a lineage the edges whose versions (or parent versions)
    /// lie in namespaces the caller may not read.
    pub fn filter_lineage(&self, view: &mut provenant_api::LineageView) {
        if *self == Self::All {
            return;
        }
        let keep = |e: &provenant_api::LineageEdgeView| {
            self.includes(namespace_of_reference(&e.version))
                && (e.kind != provenant_api::LineageEdgeKind::Parent
                    || self.includes(namespace_of_reference(&e.input)))
        };
        view.upstream.retain(keep);
        view.downstream.retain(keep);
    }

    /// Drops from an impact report the versions and aliases in namespaces
    /// the caller may not read.
    pub fn filter_impact(&self, view: &mut provenant_api::ImpactView) {
        if *self == Self::All {
            return;
        }
        view.versions
            .retain(|v| self.includes(namespace_of_reference(&v.version)));
        view.aliases
            .retain(|a| self.includes(namespace_of_reference(a)));
    }
}

#[cfg(test)]
mod reference_tests {
    #[test]
    fn namespaces_of_references() {
        use super::namespace_of_reference as ns;
        assert_eq!(ns("aiops/anomaly:3"), "aiops");
        assert_eq!(ns("netops/edge/latency#production"), "netops/edge");
        assert_eq!(ns("a/b@sha256:00"), "a");
        assert_eq!(ns("nonamespace"), "");
    }
}

impl Registry {
    /// Whether the caller may use the blob (publish it, read it): it may
    /// read a namespace holding it, or it uploaded the content itself.
    /// Knowing a digest is not having the content.
    pub async fn may_use_blob(
        &self,
        caller: &Caller,
        digest: &provenant_digest::Digest,
    ) -> Result<bool, RegistryError> {
        if self.may_read_blob(caller, digest).await? {
            return Ok(true);
        }
        Ok(self
            .store
            .blob_held_by(&digest.to_string(), &caller.name)
            .await?)
    }

    /// Records that the caller uploaded the content of `digest` (it sent
    /// every byte, and they hashed to it).
    pub async fn record_blob_holder(
        &self,
        caller: &Caller,
        digest: &provenant_digest::Digest,
    ) -> Result<(), RegistryError> {
        Ok(self
            .store
            .blob_holder_add(&digest.to_string(), &caller.name)
            .await?)
    }

    /// Whether the caller may download the blob: a file of a version in a
    /// namespace it may read (readers of every namespace may read any).
    pub async fn may_read_blob(
        &self,
        caller: &Caller,
        digest: &provenant_digest::Digest,
    ) -> Result<bool, RegistryError> {
        let vis = caller.visibility();
        if vis == Visibility::All {
            return Ok(true);
        }
        Ok(self
            .store
            .blob_namespaces(&digest.to_string())
            .await?
            .iter()
            .any(|ns| vis.includes(ns)))
    }
}
