use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use provenant_api::{AliasEventView, AliasTarget, AliasView, ModelView, PageOf};
use provenant_registry::{AliasEvent, ModelRow, Reference, rfc3339};

use super::{JsonResult, ListParams, model_name};
use crate::api_error::{ApiError, ErrorCode};
use crate::authz::{Authenticated, CanMaintain, CanRead};
use crate::state::AppState;

/// A model as the API shows it.
fn model_view(m: ModelRow) -> ModelView {
    ModelView {
        name: m.full_name,
        namespace: m.namespace,
        description: m.description,
        version_count: m.version_count,
        created_at: rfc3339(m.created_at),
        created_by: m.created_by,
    }
}

/// One move of an alias as the API shows it.
fn alias_event_view(e: AliasEvent) -> AliasEventView {
    AliasEventView {
        alias: e.alias,
        number: e.number,
        previous_number: e.previous_number,
        moved_at: rfc3339(e.moved_at),
        moved_by: e.moved_by,
    }
}

/// About what one listed model takes as JSON, beyond its name and description.
const MODEL_JSON_BYTES: usize = 256;

/// List models, in name order, optionally by name prefix.
#[utoipa::path(get, path = "/api/v1/models", tag = "models", security(("bearer" = [])),
    params(("prefix" = Option<String>, Query, description = "full-name prefix, e.g. `aiops/`"),
           ("cursor" = Option<String>, Query, description = "from `next_cursor`"),
           ("limit" = Option<i64>, Query, description = "1 to 1000, default 50")),
    responses((status = 200, body = PageOf<ModelView>)))]
pub async fn list_models(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RawQuery(q): RawQuery,
) -> JsonResult<PageOf<ModelView>> {
    let p = ListParams::parse(q.as_deref())?;
    let prefix = p.prefix.as_deref().unwrap_or("");
    let visible = caller.caller.visibility();
    let mut rows = state
        .registry
        .models(prefix, p.cursor.as_deref(), p.limit + 1, visible.names())
        .await?;
    let mut more = rows.len() as i64 > p.limit;
    rows.truncate(usize::try_from(p.limit).unwrap_or(0));
    // Bounded in bytes as well as rows (descriptions come from metadata and
    // may be long): a page that reaches the budget ends early with a cursor.
    // It always holds at least one model.
    let mut bytes = 0usize;
    if let Some(keep) = rows.iter().position(|m| {
        bytes += MODEL_JSON_BYTES + m.full_name.len() + m.description.len();
        bytes > state.limits.page_bytes
    }) {
        let keep = keep.max(1);
        more |= keep < rows.len();
        rows.truncate(keep);
    }
    let next_cursor = more
        .then(|| rows.last().map(|m| m.full_name.clone()))
        .flatten();
    Ok(Json(PageOf {
        items: rows.into_iter().map(model_view).collect(),
        next_cursor,
    }))
}

/// One model.
#[utoipa::path(get, path = "/api/v1/models/{model}", tag = "models", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`")),
    responses((status = 200, body = ModelView), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn get_model(
    State(state): State<AppState>,
    _: CanRead,
    Path(model): Path<String>,
) -> JsonResult<ModelView> {
    Ok(Json(model_view(
        state.registry.model(&model_name(&model)?).await?,
    )))
}

/// A model's aliases.
#[utoipa::path(get, path = "/api/v1/models/{model}/aliases", tag = "aliases", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`")),
    responses((status = 200, body = Vec<AliasView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn list_aliases(
    State(state): State<AppState>,
    _: CanRead,
    Path(model): Path<String>,
) -> JsonResult<Vec<AliasView>> {
    let m = state.registry.model(&model_name(&model)?).await?;
    let rows = state.registry.aliases(&m).await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| AliasView {
                alias: a.name,
                number: a.number,
                updated_at: rfc3339(a.updated_at),
                updated_by: a.updated_by,
            })
            .collect(),
    ))
}

/// Point an alias at a version (recorded in the alias history).
#[utoipa::path(put, path = "/api/v1/models/{model}/aliases/{alias}", tag = "aliases", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("alias" = String, Path)),
    request_body = AliasTarget,
    responses((status = 200, body = AliasEventView), (status = 404, body = crate::api_error::ErrorBody),
              (status = 403, body = crate::api_error::ErrorBody, description = "the policy gate denied the promotion (`policy_denied`, with the decision)"),
              (status = 409, body = crate::api_error::ErrorBody)))]
pub async fn set_alias(
    State(state): State<AppState>,
    allowed: CanMaintain,
    Path((model, alias)): Path<(String, String)>,
    body: Result<Json<AliasTarget>, JsonRejection>,
) -> JsonResult<AliasEventView> {
    let Json(target) = body?;
    if target.version < 1 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidReference,
            "version must be a positive number",
        ));
    }
    // The alias is checked before the reference, as it always was.
    provenant_registry::validate_alias(&alias)?;
    let reference = Reference::numbered(&model, target.version)?;
    if state.gate.gates_promotion(&alias) {
        let row = state.registry.resolve(&reference).await?;
        super::policy::gate_promotion(&state, &row, &alias, &allowed.principal.name).await?;
    }
    let event = state
        .registry
        .alias_set(&reference, &alias, &allowed.principal.name)
        .await?;
    Ok(Json(alias_event_view(event)))
}

/// Every move of an alias, oldest first.
#[utoipa::path(get, path = "/api/v1/models/{model}/aliases/{alias}/history", tag = "aliases", security(("bearer" = [])),
    params(("model" = String, Path, description = "URL-encoded `namespace/name`"), ("alias" = String, Path)),
    responses((status = 200, body = Vec<AliasEventView>), (status = 404, body = crate::api_error::ErrorBody)))]
pub async fn alias_history(
    State(state): State<AppState>,
    _: CanRead,
    Path((model, alias)): Path<(String, String)>,
) -> JsonResult<Vec<AliasEventView>> {
    // The alias is checked before the model, as it always was.
    provenant_registry::validate_alias(&alias)?;
    let events = state
        .registry
        .alias_history(&model_name(&model)?, &alias)
        .await?;
    Ok(Json(events.into_iter().map(alias_event_view).collect()))
}
