//! The transparency log's JSON views: entries, proofs and the audit trail.

/// A sequenced log entry.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    pub index: u64,
    /// The entry: RFC 8785 canonical JSON, exactly the logged bytes.
    pub entry: String,
    /// RFC 6962 leaf hash, hex.
    pub leaf_hash: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Table and row the entry records.
    pub source: String,
    pub source_id: i64,
}

/// An inclusion proof with the checkpoint it leads to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct InclusionView {
    pub index: u64,
    pub tree_size: u64,
    /// Leaf hash (hex) of the entry.
    pub leaf_hash: String,
    /// Proof hashes, base64, RFC 9162 order.
    pub hashes: Vec<String>,
    /// The signed checkpoint for `tree_size` (when it is the latest size).
    pub checkpoint: Option<String>,
}

/// A consistency proof.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConsistencyView {
    pub old_size: u64,
    pub new_size: u64,
    /// Proof hashes, base64, RFC 9162 order.
    pub hashes: Vec<String>,
}

/// A recorded state change and, once sequenced, its place in the log (the
/// audit trail and a version's entries).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LogEventView {
    /// Outbox id: pass as `after` to read on.
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    /// Table and row the entry records.
    pub source: String,
    pub source_id: i64,
    /// The entry: RFC 8785 canonical JSON, exactly the logged bytes.
    pub entry: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Absent until sequenced.
    pub log_index: Option<i64>,
    /// RFC 6962 leaf hash, hex; absent until sequenced.
    pub leaf_hash: Option<String>,
}

/// A registry row and what its log entry must say (for `audit verify`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditRecordView {
    /// Table and row id.
    pub source: String,
    pub source_id: i64,
    /// Expected entry type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Expected `target`.
    pub target: String,
    /// Expected `who`.
    pub who: String,
    /// Fields the entry's `details` must hold with these values.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Log index of the row's entry; absent when the row has none sequenced.
    pub log_index: Option<i64>,
}
