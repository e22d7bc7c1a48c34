//! Identities and access: `whoami`, `token`, `principal`, `namespace` and
//! `role` (see docs/access.md).

use provenant_api::{
    Grant, NamespaceBody, NamespaceRole, NamespaceView, PrincipalBody, PrincipalKind,
    PrincipalView, RoleBindingView, RoleBody, TokenBody, TokenCreated, TokenView, WhoAmI,
};
use reqwest::Method;

use crate::GlobalArgs;
use crate::client::model_segment;

/// API tokens: create (shown once), list, revoke.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    /// `--namespace ns --role R` pairs (repeatable) limit it to those roles
    Create {
        /// A name to tell it apart (unique among your unrevoked tokens)
        name: String,
        /// Namespace of a scope (pairs with the --role at the same position; `*` for all)
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Role of a scope: viewer, publisher, maintainer or auditor
        #[arg(long = "role")]
        roles: Vec<NamespaceRole>,
        /// Lifetime: e.g. 90m, 12h, 30d, 1w (none: until revoked)
        #[arg(long)]
        expires: Option<String>,
        /// Create it for another principal (admin)
        #[arg(long)]
        owner: Option<String>,
    },
    /// List your tokens (`--all`: everyone's, admin)
    List {
        #[arg(long)]
        all: bool,
    },
    /// Revoke a token by id or name
    Revoke {
        /// Id (from `token list`) or name of one of your tokens
        #[arg(value_name = "ID|NAME")]
        which: String,
    },
}

/// Users and service accounts (admin).
#[derive(Debug, clap::Subcommand)]
pub enum PrincipalCommand {
    /// Create a user (or with --service, a service account, e.g. for CI)
    Create {
        name: String,
        #[arg(long)]
        service: bool,
        /// A global administrator
        #[arg(long)]
        admin: bool,
    },
    /// List principals with their roles
    List,
}

/// Namespaces.
#[derive(Debug, clap::Subcommand)]
pub enum NamespaceCommand {
    /// Create a namespace (admin); the owner becomes its maintainer
    Create {
        name: String,
        #[arg(long)]
        owner: Option<String>,
    },
    /// The namespaces you may read, with your role in each
    List,
}

/// Roles per namespace.
#[derive(Debug, clap::Subcommand)]
pub enum RoleCommand {
    /// Give a principal a role in a namespace (maintainers of it, or admins;
    /// `*` for every namespace, admins only)
    Grant {
        namespace: String,
        principal: String,
        role: NamespaceRole,
    },
    /// Take away a principal's role in a namespace
    Revoke {
        namespace: String,
        principal: String,
    },
    /// Who holds which role in a namespace
    List { namespace: String },
}

/// Seconds in a lifetime like `90m`, `12h`, `30d` or `1w` (a bare number is seconds).
pub fn parse_lifetime(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        anyhow::anyhow!("--expires {s:?}: expected a number and a unit (90m, 12h, 30d, 1w)")
    })?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        other => anyhow::bail!("--expires {s:?}: unknown unit {other:?} (use s, m, h, d or w)"),
    };
    match n.checked_mul(mult) {
        Some(0) | None => {
            anyhow::bail!("--expires {s:?}: must be at least one second and not absurdly long")
        }
        Some(secs) => Ok(secs),
    }
}

fn grants_text(grants: &[Grant]) -> String {
    if grants.is_empty() {
        return "-".into();
    }
    grants
        .iter()
        .map(|g| format!("{}:{}", g.namespace, g.role))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `provenant whoami`.
pub async fn whoami(g: &GlobalArgs) -> anyhow::Result<()> {
    let me: WhoAmI = g.client()?.get_json("api/v1/whoami").await?;
    if g.json {
        return crate::output::json(&me);
    }
    println!(
        "{} ({}{})",
        me.name,
        me.kind,
        if me.admin { ", admin" } else { "" }
    );
    println!("roles:      {}", grants_text(&me.roles));
    let c = &me.credential;
    match c.kind.as_str() {
        "token" => println!(
            "token:      {} (id {}), expires {}{}",
            c.name,
            c.token_id.map_or_else(|| "?".into(), |i| i.to_string()),
            c.expires_at.as_deref().unwrap_or("never"),
            if c.scopes.is_empty() {
                String::new()
            } else {
                format!(", limited to {}", grants_text(&c.scopes))
            }
        ),
        _ => println!(
            "identity:   OIDC workload as service account {}, expires {}",
            c.name,
            c.expires_at.as_deref().unwrap_or("?")
        ),
    }
    Ok(())
}

pub async fn token(g: &GlobalArgs, c: TokenCommand) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        TokenCommand::Create {
            name,
            namespaces,
            roles,
            expires,
            owner,
        } => {
            if namespaces.len() != roles.len() {
                anyhow::bail!(
                    "give --namespace and --role in pairs ({} --namespace, {} --role)",
                    namespaces.len(),
                    roles.len()
                );
            }
            let body = TokenBody {
                name,
                owner,
                scopes: namespaces
                    .into_iter()
                    .zip(roles)
                    .map(|(namespace, role)| Grant { namespace, role })
                    .collect(),
                expires_in: expires.as_deref().map(parse_lifetime).transpose()?,
            };
            let (_, t): (_, TokenCreated) = client
                .send_json(Method::POST, "api/v1/tokens", &body)
                .await?;
            if g.json {
                return crate::output::json(&t);
            }
            eprintln!(
                "token {} (id {}) for {}, expires {}; scopes: {}. It is shown once:",
                t.view.name,
                t.view.id,
                t.view.owner,
                t.view.expires_at.as_deref().unwrap_or("never"),
                grants_text(&t.view.scopes)
            );
            println!("{}", t.token);
        }
        TokenCommand::List { all } => {
            let q = if all { "?all=true" } else { "" };
            let tokens: Vec<TokenView> = client.get_json(&format!("api/v1/tokens{q}")).await?;
            if g.json {
                return crate::output::json(&tokens);
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.to_string(),
                        t.name.clone(),
                        t.owner.clone(),
                        grants_text(&t.scopes),
                        t.created_at.clone(),
                        t.expires_at.clone().unwrap_or_else(|| "never".into()),
                        t.revoked_at.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            crate::output::table(
                &[
                    "ID", "NAME", "OWNER", "SCOPES", "CREATED", "EXPIRES", "REVOKED",
                ],
                &rows,
            );
        }
        TokenCommand::Revoke { which } => {
            let resp = client
                .send(client.request(
                    Method::DELETE,
                    &format!("api/v1/tokens/{}", model_segment(&which)),
                )?)
                .await?;
            let t: TokenView = resp.json().await?;
            if g.json {
                return crate::output::json(&t);
            }
            println!("revoked token {} ({}) of {}", t.id, t.name, t.owner);
        }
    }
    Ok(())
}

pub async fn principal(g: &GlobalArgs, c: PrincipalCommand) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        PrincipalCommand::Create {
            name,
            service,
            admin,
        } => {
            let (_, p): (_, PrincipalView) = client
                .send_json(
                    Method::POST,
                    "api/v1/principals",
                    &PrincipalBody {
                        name,
                        kind: if service {
                            PrincipalKind::Service
                        } else {
                            PrincipalKind::User
                        },
                        admin,
                    },
                )
                .await?;
            if g.json {
                return crate::output::json(&p);
            }
            println!(
                "created {} {}{}",
                p.kind,
                p.name,
                if p.admin { " (admin)" } else { "" }
            );
        }
        PrincipalCommand::List => {
            let ps: Vec<PrincipalView> = client.get_json("api/v1/principals").await?;
            if g.json {
                return crate::output::json(&ps);
            }
            let rows: Vec<Vec<String>> = ps
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.kind.to_string(),
                        if p.admin { "yes" } else { "" }.to_owned(),
                        grants_text(&p.roles),
                        p.created_at.clone(),
                    ]
                })
                .collect();
            crate::output::table(&["NAME", "KIND", "ADMIN", "ROLES", "CREATED"], &rows);
        }
    }
    Ok(())
}

pub async fn namespace(g: &GlobalArgs, c: NamespaceCommand) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        NamespaceCommand::Create { name, owner } => {
            let (_, n): (_, NamespaceView) = client
                .send_json(
                    Method::POST,
                    "api/v1/namespaces",
                    &NamespaceBody { name, owner },
                )
                .await?;
            if g.json {
                return crate::output::json(&n);
            }
            println!(
                "created namespace {}{}",
                n.name,
                n.owner
                    .map(|o| format!(" owned by {o} (maintainer)"))
                    .unwrap_or_default()
            );
        }
        NamespaceCommand::List => {
            let ns: Vec<NamespaceView> = client.get_json("api/v1/namespaces").await?;
            if g.json {
                return crate::output::json(&ns);
            }
            let rows: Vec<Vec<String>> = ns
                .iter()
                .map(|n| {
                    vec![
                        n.name.clone(),
                        n.owner.clone().unwrap_or_default(),
                        n.role.map(|r| r.to_string()).unwrap_or_default(),
                        n.created_at.clone(),
                    ]
                })
                .collect();
            crate::output::table(&["NAMESPACE", "OWNER", "YOUR ROLE", "CREATED"], &rows);
        }
    }
    Ok(())
}

pub async fn role(g: &GlobalArgs, c: RoleCommand) -> anyhow::Result<()> {
    let client = g.client()?;
    let path = |ns: &str, p: &str| {
        format!(
            "api/v1/namespaces/{}/roles/{}",
            model_segment(ns),
            model_segment(p)
        )
    };
    match c {
        RoleCommand::Grant {
            namespace,
            principal,
            role,
        } => {
            let (_, b): (_, RoleBindingView) = client
                .send_json(
                    Method::PUT,
                    &path(&namespace, &principal),
                    &RoleBody { role },
                )
                .await?;
            if g.json {
                return crate::output::json(&b);
            }
            println!("{} is {} in {}", b.principal, b.role, b.namespace);
        }
        RoleCommand::Revoke {
            namespace,
            principal,
        } => {
            let resp = client
                .send(client.request(Method::DELETE, &path(&namespace, &principal))?)
                .await?;
            let b: RoleBindingView = resp.json().await?;
            if g.json {
                return crate::output::json(&b);
            }
            println!("{} is no longer {} in {}", b.principal, b.role, b.namespace);
        }
        RoleCommand::List { namespace } => {
            let bs: Vec<RoleBindingView> = client
                .get_json(&format!(
                    "api/v1/namespaces/{}/roles",
                    model_segment(&namespace)
                ))
                .await?;
            if g.json {
                return crate::output::json(&bs);
            }
            let rows: Vec<Vec<String>> = bs
                .iter()
                .map(|b| {
                    vec![
                        b.principal.clone(),
                        b.role.to_string(),
                        b.granted_at.clone(),
                        b.granted_by.clone(),
                    ]
                })
                .collect();
            crate::output::table(&["PRINCIPAL", "ROLE", "GRANTED", "BY"], &rows);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_lifetime;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_lifetime("90m").unwrap(), 5400);
        assert_eq!(parse_lifetime("45").unwrap(), 45);
        assert_eq!(parse_lifetime("1w").unwrap(), 604_800);
        assert!(parse_lifetime("0d").is_err());
        assert!(parse_lifetime("3y").is_err());
        assert!(parse_lifetime("d").is_err());
        assert!(parse_lifetime("99999999999999999999d").is_err());
    }
}
