//! `/v1/retained`: the workspaces `DELETE /v1/deployments/{id}?retain_filesystem=true`
//! kept, listed and readable until they expire (`[workspaces] retained_days`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Path, Query};
use super::files::{FileList, ListQuery, PathQuery, bytes_response};
use super::paging::PageQuery;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::retained::RetainedWorkspace;

/// A page of retained workspaces.
#[derive(Serialize, ToSchema)]
pub struct RetainedList {
    /// Newest deletion first.
    pub data: Vec<RetainedWorkspace>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// `GET /v1/retained`.
#[utoipa::path(get, path = "/v1/retained", tag = "retained", summary = "List retained workspaces",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "The account's retained workspaces", body = RetainedList), CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let page = state.host.retained_workspaces(&caller.account_id, q.cursor().map(str::to_string), q.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `GET /v1/retained/{deployment_id}`.
#[utoipa::path(get, path = "/v1/retained/{deployment_id}", tag = "retained", summary = "Get a retained workspace",
    params(("deployment_id" = String, Path, description = "The deleted deployment's dep_…")),
    responses(
        (status = 200, description = "The retained workspace", body = RetainedWorkspace),
        CommonErrors,
        (status = 404, description = "None retained for this deployment, or it expired", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RetainedWorkspace>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(state.host.retained_workspace(&caller.account_id, &id).await?))
}

/// `GET /v1/retained/{deployment_id}/files?path=`.
#[utoipa::path(get, path = "/v1/retained/{deployment_id}/files", tag = "retained", summary = "List a folder of a retained workspace",
    params(
        ("deployment_id" = String, Path, description = "The deleted deployment's dep_…"),
        ("path" = Option<String>, Query, description = "Workspace-relative folder; default the top"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1–1000, default 1000"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous answer"),
    ),
    responses(
        (status = 200, description = "The folder's entries", body = FileList),
        CommonErrors,
        (status = 404, description = "No such retained workspace or folder", body = ErrorBody),
    ))]
pub async fn files(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<FileList>, ApiError> {
    caller.require("deployments:read")?;
    let (path, limit, cursor) = q.parts()?;
    Ok(Json(state.host.list_retained_files(&caller.account_id, &id, path, cursor, limit).await?.into()))
}

/// `GET /v1/retained/{deployment_id}/files/content?path=`.
#[utoipa::path(get, path = "/v1/retained/{deployment_id}/files/content", tag = "retained", summary = "Download a file of a retained workspace",
    params(
        ("deployment_id" = String, Path, description = "The deleted deployment's dep_…"),
        ("path" = String, Query, description = "Workspace-relative file path"),
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        CommonErrors,
        (status = 404, description = "No such retained workspace or file", body = ErrorBody),
    ))]
pub async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PathQuery>,
) -> Result<Response, ApiError> {
    caller.require("deployments:read")?;
    Ok(bytes_response(state.host.read_retained_file(&caller.account_id, &id, q.required()?).await?))
}

/// `DELETE /v1/retained/{deployment_id}`.
#[utoipa::path(delete, path = "/v1/retained/{deployment_id}", tag = "retained", summary = "Remove a retained workspace now",
    params(("deployment_id" = String, Path, description = "The deleted deployment's dep_…")),
    responses(
        (status = 200, description = "Removed", body = Value),
        CommonErrors,
        (status = 404, description = "No such retained workspace", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    state.host.delete_retained_workspace(&caller.account_id, &id).await?;
    Ok(Json(json!({"deployment_id": id, "deleted": true})))
}
