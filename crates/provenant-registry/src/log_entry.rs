//! The transparency log's entry schema: what the registry writes about each
//! change it makes.
//!
//! An entry is the RFC 8785 canonical JSON
//! (<https://www.rfc-editor.org/rfc/rfc8785>) of `type`, `schema_version`,
//! `who`, `when` (Unix ms), `target`, `details`; its Merkle leaf is the
//! RFC 6962 leaf hash of those bytes. The store persists entries without
//! reading them: [`LogEntries`] is the [`EntryEncoder`] it is given
//! ([`crate::Registry::new`] gives it), which turns the store's description
//! of each write (a [`Change`]) into the entry.

use provenant_store::{Change, EncodedEntry, EntryEncoder, EntryInput};

/// Schema version of the canonical entry.
pub const ENTRY_SCHEMA_VERSION: u32 = 1;

/// Entry types, `type` in the canonical entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EntryKind {
    #[serde(rename = "version.published")]
    VersionPublished,
    #[serde(rename = "attachment.added")]
    AttachmentAdded,
    #[serde(rename = "labels.changed")]
    LabelsChanged,
    #[serde(rename = "alias.moved")]
    AliasMoved,
    #[serde(rename = "version.deprecated")]
    VersionDeprecated,
    #[serde(rename = "version.archived")]
    VersionArchived,
    #[serde(rename = "version.state_changed")]
    VersionStateChanged,
    #[serde(rename = "trusted_key.added")]
    TrustedKeyAdded,
    #[serde(rename = "trusted_key.removed")]
    TrustedKeyRemoved,
    #[serde(rename = "policy.decision")]
    PolicyDecision,
    #[serde(rename = "policy.loaded")]
    PolicyLoaded,
}

impl EntryKind {
    /// Every kind, in the order above.
    pub const ALL: [EntryKind; 11] = [
        Self::VersionPublished,
        Self::AttachmentAdded,
        Self::LabelsChanged,
        Self::AliasMoved,
        Self::VersionDeprecated,
        Self::VersionArchived,
        Self::VersionStateChanged,
        Self::TrustedKeyAdded,
        Self::TrustedKeyRemoved,
        Self::PolicyDecision,
        Self::PolicyLoaded,
    ];

    /// The entry's `type` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VersionPublished => "version.published",
            Self::AttachmentAdded => "attachment.added",
            Self::LabelsChanged => "labels.changed",
            Self::AliasMoved => "alias.moved",
            Self::VersionDeprecated => "version.deprecated",
            Self::VersionArchived => "version.archived",
            Self::VersionStateChanged => "version.state_changed",
            Self::TrustedKeyAdded => "trusted_key.added",
            Self::TrustedKeyRemoved => "trusted_key.removed",
            Self::PolicyDecision => "policy.decision",
            Self::PolicyLoaded => "policy.loaded",
        }
    }

    /// The kind of entry that records `change`.
    pub fn of(change: &Change) -> Self {
        match change {
            Change::VersionPublished { .. } => Self::VersionPublished,
            Change::AttachmentAdded { .. } => Self::AttachmentAdded,
            Change::LabelsChanged { .. } => Self::LabelsChanged,
            Change::StateChanged { state, .. } => match state.as_str() {
                "deprecated" => Self::VersionDeprecated,
                "archived" => Self::VersionArchived,
                _ => Self::VersionStateChanged,
            },
            Change::AliasMoved { .. } => Self::AliasMoved,
            Change::TrustedKeyAdded { .. } => Self::TrustedKeyAdded,
            Change::TrustedKeyRemoved { .. } => Self::TrustedKeyRemoved,
            Change::PolicyDecision { .. } => Self::PolicyDecision,
            Change::PolicySetLoaded { .. } => Self::PolicyLoaded,
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EntryKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown log entry type {s:?}"))
    }
}

/// The `details` of the entry recording `change`.
pub fn entry_details(change: &Change) -> serde_json::Value {
    use serde_json::json;
    match change {
        Change::VersionPublished {
            digest,
            metadata_digest,
        } => json!({"digest": digest, "metadata_digest": metadata_digest}),
        Change::AttachmentAdded {
            kind,
            digest,
            media_type,
            signer,
        } => json!({"kind": kind, "digest": digest, "media_type": media_type, "signer": signer}),
        Change::LabelsChanged { set, remove } => json!({"set": set, "remove": remove}),
        Change::StateChanged { state, reason } => json!({"state": state, "reason": reason}),
        Change::AliasMoved {
            alias,
            number,
            previous_number,
        } => json!({"alias": alias, "number": number, "previous_number": previous_number}),
        // A root certificate vouches for every chain it issues: the log says
        // which kind of anchor was added.
        Change::TrustedKeyAdded {
            fingerprint,
            public_key,
        } => json!({
            "fingerprint": fingerprint,
            "kind": if public_key.contains("-----BEGIN CERTIFICATE-----") {
                provenant_api::TrustedKeyKind::RootCertificate
            } else {
                provenant_api::TrustedKeyKind::Key
            },
        }),
        Change::TrustedKeyRemoved { fingerprint } => json!({"fingerprint": fingerprint}),
        // The whole decision: every reason and warning, the policy set and
        // the input it was made on (the input itself is not logged; its
        // digest is, and `provenant policy input` reproduces it).
        Change::PolicyDecision {
            action,
            digest,
            environment,
            allowed,
            policy_set,
            input_digest,
            decision,
        } => json!({
            "action": action,
            "digest": digest,
            "environment": environment,
            "allowed": allowed,
            "policy_set": policy_set,
            "input_digest": input_digest,
            "decision": serde_json::from_str::<serde_json::Value>(decision)
                .unwrap_or_else(|_| serde_json::Value::String(decision.clone())),
        }),
        Change::PolicySetLoaded {
            digest,
            description,
        } => json!({
            "digest": digest,
            "set": serde_json::from_str::<serde_json::Value>(description)
                .unwrap_or_else(|_| serde_json::Value::String(description.clone())),
        }),
    }
}

/// The RFC 8785 canonical entry: `type`, `schema_version`, `who`, `when`
/// (Unix ms), `target`, `details`.
pub fn canonical_entry(
    kind: EntryKind,
    who: &str,
    when: i64,
    target: &str,
    details: &serde_json::Value,
) -> Result<String, String> {
    let v = serde_json::json!({
        "type": kind,
        "schema_version": ENTRY_SCHEMA_VERSION,
        "who": who,
        "when": when,
        "target": target,
        "details": details,
    });
    provenant_tlog::canonicalize(&v).map_err(|e| format!("log entry of type {kind}: {e}"))
}

/// The entry's Merkle leaf hash (RFC 6962), hex.
pub fn entry_leaf_hash(entry: &str) -> String {
    provenant_tlog::leaf_hash(entry.as_bytes()).to_hex()
}

/// The registry's [`EntryEncoder`]: this module's schema.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogEntries;

impl EntryEncoder for LogEntries {
    fn encode(&self, input: &EntryInput<'_>) -> Result<EncodedEntry, String> {
        let kind = EntryKind::of(input.change);
        let entry = canonical_entry(
            kind,
            input.who,
            input.when,
            input.target,
            &entry_details(input.change),
        )?;
        let leaf_hash = entry_leaf_hash(&entry);
        Ok(EncodedEntry {
            kind: kind.as_str().to_owned(),
            entry,
            leaf_hash,
        })
    }

    fn kind(&self, change: &Change) -> &'static str {
        EntryKind::of(change).as_str()
    }

    /// What `audit verify` checks of each row's entry: the values that
    /// identify it (not the whole of `details`).
    fn audit_details(&self, change: &Change) -> serde_json::Value {
        use serde_json::json;
        match change {
            Change::AttachmentAdded { kind, digest, .. } => {
                json!({"kind": kind, "digest": digest})
            }
            Change::AliasMoved { alias, number, .. } => json!({"alias": alias, "number": number}),
            Change::TrustedKeyAdded { fingerprint, .. } => json!({"fingerprint": fingerprint}),
            Change::PolicyDecision {
                action,
                digest,
                allowed,
                policy_set,
                input_digest,
                ..
            } => json!({"action": action, "digest": digest, "allowed": allowed,
                        "policy_set": policy_set, "input_digest": input_digest}),
            Change::PolicySetLoaded { digest, .. } => json!({"digest": digest}),
            other => entry_details(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_their_strings_and_parse_back() {
        for k in EntryKind::ALL {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
            assert_eq!(k.as_str().parse::<EntryKind>().unwrap(), k);
        }
        assert!("version.unknown".parse::<EntryKind>().is_err());
    }

    #[test]
    fn an_entry_is_canonical_and_its_leaf_is_rfc6962() {
        let change = Change::LabelsChanged {
            set: [("stage".to_owned(), "prod".to_owned())].into(),
            remove: vec!["old".into()],
        };
        let e = LogEntries
            .encode(&EntryInput {
                change: &change,
                who: "alice",
                when: 1700000000000,
                target: "aiops/m:3",
            })
            .unwrap();
        assert_eq!(e.kind, "labels.changed");
        assert_eq!(
            e.entry,
            r#"{"details":{"remove":["old"],"set":{"stage":"prod"}},"schema_version":1,"target":"aiops/m:3","type":"labels.changed","when":1700000000000,"who":"alice"}"#
        );
        assert_eq!(
            e.leaf_hash,
            provenant_tlog::leaf_hash(e.entry.as_bytes()).to_hex()
        );
    }

    #[test]
    fn a_state_change_names_its_state_and_a_certificate_its_kind() {
        let state = |s: &str| Change::StateChanged {
            state: s.into(),
            reason: "r".into(),
        };
        assert_eq!(
            EntryKind::of(&state("deprecated")),
            EntryKind::VersionDeprecated
        );
        assert_eq!(
            EntryKind::of(&state("archived")),
            EntryKind::VersionArchived
        );
        assert_eq!(
            EntryKind::of(&state("active")),
            EntryKind::VersionStateChanged
        );
        let cert = Change::TrustedKeyAdded {
            fingerprint: "f".into(),
            public_key: "-----BEGIN CERTIFICATE-----\n…".into(),
        };
        assert_eq!(entry_details(&cert)["kind"], "root_certificate");
        assert_eq!(
            LogEntries.audit_details(&cert),
            serde_json::json!({"fingerprint": "f"})
        );
    }
}
