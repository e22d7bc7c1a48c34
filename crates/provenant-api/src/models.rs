//! Models, aliases and the caller, as the API shows them.

/// A model.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelView {
    /// Full name, `namespace/name`.
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub version_count: i64,
    pub created_at: String,
    pub created_by: String,
}

/// An alias and the version it points at.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AliasView {
    pub alias: String,
    pub number: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// One move of an alias.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AliasEventView {
    pub alias: String,
    pub number: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_number: Option<i64>,
    pub moved_at: String,
    pub moved_by: String,
}
