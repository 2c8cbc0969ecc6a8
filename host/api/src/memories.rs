//! `/v1/deployments/{id}/memories` (observational memory) and `POST …/dream`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Path, Query};
use super::json::Body;
use super::paging::PageQuery;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::dreaming::DreamObject;
use hermes_core::memory::MemoryObject;

/// Create Memory / Update Memory body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryBody {
    /// The observation (at most 2,000 bytes). Refused when it reads as an instruction
    /// to the model or contains the value of one of the deployment's secrets.
    content: String,
}

/// `?q=`: full-text search.
#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `?wait=`: answer once the dream has ended.
#[derive(Deserialize, Default)]
pub struct DreamQuery {
    wait: Option<String>,
}

/// `GET …/memories`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/memories", tag = "memory", summary = "List or search memories",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("q" = Option<String>, Query, description = "Full-text search (ranked best first); without it, newest first"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100), ("cursor" = Option<String>, Query), ("starting_after" = Option<String>, Query)
    ),
    responses(
        (status = 200, description = "`{data: [memory], next_cursor, has_more}`", body = Object),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    Query(search): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let q = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.len() > 1024) {
        return Err(ApiError::validation(Some("q".into()), "`q` is at most 1024 bytes"));
    }
    let page = state.host.list_memories(&caller.account_id, &id, q, page.cursor(), page.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `POST …/memories`.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/memories", tag = "memory", summary = "Add a memory",
    params(("id" = String, Path, description = "dep_…")),
    request_body = MemoryBody,
    responses(
        (status = 201, description = "Stored (`source: api`); an identical entry already stored is returned instead", body = MemoryObject),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<MemoryBody>,
) -> Result<(StatusCode, Json<MemoryObject>), ApiError> {
    caller.require("deployments:write")?;
    Ok((StatusCode::CREATED, Json(state.host.add_memory(&caller.account_id, &id, &body.content).await?)))
}

/// `GET …/memories/{memory_id}`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/memories/{memory_id}", tag = "memory", summary = "Get a memory",
    params(("id" = String, Path, description = "dep_…"), ("memory_id" = String, Path, description = "mem_…")),
    responses(
        (status = 200, description = "The memory", body = MemoryObject),
        CommonErrors,
        (status = 404, description = "No such deployment or memory", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, memory_id)): Path<(String, String)>,
) -> Result<Json<MemoryObject>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(state.host.memory(&caller.account_id, &id, &memory_id).await?))
}

/// `PATCH …/memories/{memory_id}`.
#[utoipa::path(
    patch, path = "/v1/deployments/{id}/memories/{memory_id}", tag = "memory", summary = "Change a memory's content",
    params(("id" = String, Path, description = "dep_…"), ("memory_id" = String, Path, description = "mem_…")),
    request_body = MemoryBody,
    responses(
        (status = 200, description = "The memory", body = MemoryObject),
        CommonErrors,
        (status = 404, description = "No such deployment or memory", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, memory_id)): Path<(String, String)>,
    Body(body): Body<MemoryBody>,
) -> Result<Json<MemoryObject>, ApiError> {
    caller.require("deployments:write")?;
    Ok(Json(state.host.update_memory(&caller.account_id, &id, &memory_id, &body.content).await?))
}

/// `DELETE …/memories/{memory_id}`.
#[utoipa::path(
    delete, path = "/v1/deployments/{id}/memories/{memory_id}", tag = "memory", summary = "Forget a memory",
    params(("id" = String, Path, description = "dep_…"), ("memory_id" = String, Path, description = "mem_…")),
    responses(
        (status = 200, description = "`{memory_id, deleted: true}`; the agent does not re-learn it unless the customer repeats it", body = Object),
        CommonErrors,
        (status = 404, description = "No such deployment or memory", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, memory_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    state.host.forget_memory(&caller.account_id, &id, &memory_id).await?;
    Ok(Json(json!({"memory_id": memory_id, "deleted": true})))
}

/// `POST …/dream`.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/dream", tag = "memory", summary = "Start a dream now",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("wait" = Option<bool>, Query, description = "Answer once the dream has ended (200) instead of at its start (202)")
    ),
    responses(
        (status = 200, description = "The finished dream (`?wait=true`)", body = DreamObject),
        (status = 202, description = "The dream started; follow its `dream` events", body = DreamObject),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
        (status = 409, description = "Already dreaming, a run is active, the deployment is not ready, or memory is disabled", body = ErrorBody),
    )
)]
pub async fn dream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DreamQuery>,
) -> Result<(StatusCode, Json<DreamObject>), ApiError> {
    caller.require("deployments:write")?;
    let wait = match q.wait.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::validation(Some("wait".into()), "`wait` must be true or false")),
    };
    let dream = state.host.dream(&caller.account_id, &id, wait).await?;
    Ok((if wait { StatusCode::OK } else { StatusCode::ACCEPTED }, Json(dream)))
}
