//! The verifier: a token in, a mapped workload (or the reason for refusal)
//! out.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use provenant_api::Grant;
use serde_json::{Map, Value};

use crate::config::{IssuerConfig, OidcConfig, Rule};
use crate::error::OidcError;
use crate::jwks::{Http, Intervals, IssuerKeys};
use crate::mapping::{principal_name, rule_matches};
use crate::token::{alg_name, pre_check, truncate};

/// A verified identity token, mapped by a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// Who the workload is, for logs and audit records, e.g.
    /// `github:org/repo:.github/workflows/train.yml@refs/heads/main`: the
    /// rule's `name` template, else derived from the claims (see
    /// [`crate::derived_name`]).
    pub principal: String,
    /// The service account the workload acts as.
    pub service_account: String,
    /// The roles the rule grants.
    pub grants: Vec<Grant>,
    /// The token's `exp`: the workload's identity lasts no longer.
    pub expires_at: SystemTime,
    /// Index of the rule that mapped the token, in configuration order.
    pub rule: usize,
    /// Every claim of the token, verified.
    pub claims: Map<String, Value>,
}

/// One configured issuer: its audiences, keys and rules.
struct Issuer {
    config: IssuerConfig,
    keys: IssuerKeys,
    /// The rules naming this issuer, with their index in the configuration.
    rules: Vec<(usize, Rule)>,
}

/// Verifies identity tokens against the configured issuers and maps them
/// through the rules. Share one per server: it holds the key caches.
pub struct Verifier {
    issuers: HashMap<String, Issuer>,
    leeway: Duration,
    intervals: Intervals,
    http: Http,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers.keys().collect::<Vec<_>>())
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Checks `config` ([`OidcConfig::validate`]) and reads every JWKS file
    /// (an unreadable one, or one without a usable key, is an error here);
    /// remote keys are fetched on first use, or by [`Verifier::prefetch`].
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        config.validate()?;
        crate::crypto::install();
        let http = Http::new()?;
        let mut issuers = HashMap::new();
        for issuer in config.issuers {
            let keys = IssuerKeys::new(&issuer.issuer, &issuer.jwks)?;
            let rules = config
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.issuer == issuer.issuer)
                .map(|(i, r)| (i, r.clone()))
                .collect();
            issuers.insert(
                issuer.issuer.clone(),
                Issuer {
                    config: issuer,
                    keys,
                    rules,
                },
            );
        }
        Ok(Self {
            issuers,
            leeway: config.leeway,
            intervals: Intervals {
                refetch: config.jwks_refetch_interval,
                max_age: config.jwks_max_age,
            },
            http,
        })
    }

    /// Fetches every remote JWKS now (at server start, so the first request
    /// does not wait); returns what failed, for the log. Failures are not
    /// fatal: the keys are fetched again when a token needs them.
    pub async fn prefetch(&self) -> Vec<OidcError> {
        let mut failures = Vec::new();
        for issuer in self.issuers.values() {
            if let Err(e) = issuer.keys.prefetch(&self.http).await {
                failures.push(e);
            }
        }
        failures
    }

    /// Verifies `token` at time `now` and maps it to a workload.
    ///
    /// In order: size and shape, the header (`alg: none` and HMAC refused
    /// first), the issuer (the unverified `iss` chooses the keys), the key
    /// (`kid`, fetched again once when unknown), the header's algorithm
    /// against the key's, the signature, then `aud`, `sub`, `exp`, `nbf` and
    /// `iat` (with the leeway), and last the rules.
    pub async fn verify(&self, token: &str, now: SystemTime) -> Result<Workload, OidcError> {
        let unverified = pre_check(token)?;
        let iss = match unverified.claims.get("iss") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: "iss",
                    reason: "not a string".to_owned(),
                });
            }
            None => return Err(OidcError::MissingClaim { claim: "iss" }),
        };
        let Some(issuer) = self.issuers.get(iss) else {
            return Err(OidcError::UntrustedIssuer {
                issuer: truncate(iss),
            });
        };
        let issuer_name = &issuer.config.issuer;
        let key = issuer
            .keys
            .key(unverified.kid.as_deref(), &self.http, self.intervals)
            .await?;
        if key.alg != unverified.alg {
            return Err(OidcError::AlgorithmMismatch {
                issuer: issuer_name.clone(),
                kid: key.kid_text(),
                header_alg: alg_name(unverified.alg).to_owned(),
                key_alg: alg_name(key.alg).to_owned(),
            });
        }
        let verified =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &key.validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::InvalidSignature => OidcError::BadSignature {
                        issuer: issuer_name.clone(),
                        kid: key.kid_text(),
                    },
                    ErrorKind::InvalidAlgorithm => OidcError::AlgorithmMismatch {
                        issuer: issuer_name.clone(),
                        kid: key.kid_text(),
                        header_alg: alg_name(unverified.alg).to_owned(),
                        key_alg: alg_name(key.alg).to_owned(),
                    },
                    ErrorKind::Base64(_) => OidcError::malformed("a segment is not base64url"),
                    ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                        OidcError::malformed("a segment is not a JSON object")
                    }
                    other => OidcError::malformed(format!("the JWS does not parse ({other:?})")),
                })?;
        let claims = verified.claims;
        // The same bytes as the unverified payload; checked all the same.
        if claims.get("iss").and_then(Value::as_str) != Some(issuer_name.as_str()) {
            return Err(OidcError::malformed(
                "the verified `iss` differs from the parsed one",
            ));
        }
        self.check_claims(issuer, &claims, now)?;
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: "sub",
                    reason: "not a non-empty string".to_owned(),
                });
            }
            None => return Err(OidcError::MissingClaim { claim: "sub" }),
        };
        let exp = numeric_date(&claims, "exp")?.unwrap_or_default();
        let Some((index, rule)) = issuer
            .rules
            .iter()
            .find(|(_, rule)| rule_matches(rule, &claims))
        else {
            return Err(OidcError::NoMatchingRule {
                issuer: issuer_name.clone(),
                subject: truncate(&subject),
            });
        };
        let principal = principal_name(*index, rule, issuer_name, &subject, &claims)?;
        Ok(Workload {
            issuer: issuer_name.clone(),
            subject,
            principal,
            service_account: rule.service_account.clone(),
            grants: rule.grants.clone(),
            expires_at: UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).unwrap_or(0)),
            rule: *index,
            claims,
        })
    }

    /// `aud`, then `exp`, `nbf` and `iat` against `now` with the leeway.
    fn check_claims(
        &self,
        issuer: &Issuer,
        claims: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<(), OidcError> {
        let issuer_name = &issuer.config.issuer;
        let found: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: "aud",
                    reason: "neither a string nor an array of strings".to_owned(),
                });
            }
            None => return Err(OidcError::MissingClaim { claim: "aud" }),
        };
        if !found
            .iter()
            .any(|a| issuer.config.audiences.iter().any(|want| want == a))
        {
            return Err(OidcError::WrongAudience {
                issuer: issuer_name.clone(),
                found: found.iter().take(8).map(|a| truncate(a)).collect(),
                expected: issuer.config.audiences.clone(),
            });
        }

        let now = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let leeway_secs = self.leeway.as_secs();
        let leeway = i64::try_from(leeway_secs).unwrap_or(i64::MAX);
        let Some(exp) = numeric_date(claims, "exp")? else {
            return Err(OidcError::MissingClaim { claim: "exp" });
        };
        if now >= exp.saturating_add(leeway) {
            return Err(OidcError::Expired {
                issuer: issuer_name.clone(),
                exp,
                now,
                leeway_secs,
            });
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && now.saturating_add(leeway) < nbf
        {
            return Err(OidcError::NotYetValid {
                issuer: issuer_name.clone(),
                nbf,
                now,
                leeway_secs,
            });
        }
        if let Some(iat) = numeric_date(claims, "iat")?
            && iat > now.saturating_add(leeway)
        {
            return Err(OidcError::IssuedInFuture {
                issuer: issuer_name.clone(),
                iat,
                now,
                leeway_secs,
            });
        }
        Ok(())
    }
}

/// A NumericDate claim (seconds since the epoch; a fraction is dropped).
fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, OidcError> {
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let invalid = || OidcError::InvalidClaim {
        claim,
        reason: "not a number of seconds since 1970".to_owned(),
    };
    let Value::Number(n) = value else {
        return Err(invalid());
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 1e17 => Ok(Some(f.floor() as i64)),
        _ => Err(invalid()),
    }
}
