//! `/v1/deployments/{id}/tools`.

use super::extract::Path;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::Body;
use super::schema::{CommonErrors, ErrorBody, ToolList, ToolObject};
use super::{ApiError, AppState, Caller};

/// `GET …/tools`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/tools", tag = "tools",
    summary = "List a deployment's tools",
    params(("id" = String, Path, description = "dep_…")),
    responses(
        (status = 200, description = "Built-in and MCP tools", body = ToolList),
        CommonErrors,
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let tools = state.host.tools(&caller.account_id, &id).await?;
    Ok(Json(json!({"data": tools})))
}

/// Body of PATCH …/tools/{name}.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEnabled {
    /// Show the tool to the model or hide it.
    enabled: bool,
}

/// `PATCH …/tools/{name}`.
#[utoipa::path(
    patch, path = "/v1/deployments/{id}/tools/{name}", tag = "tools",
    summary = "Enable or disable a tool",
    params(("id" = String, Path, description = "dep_…"), ("name" = String, Path, description = "Tool name")),
    request_body = SetEnabled,
    responses(
        (status = 200, description = "The tool", body = ToolObject),
        CommonErrors,
        (status = 404, description = "No such deployment or tool", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    Body(body): Body<SetEnabled>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    let tool = state.host.set_tool_enabled(&caller.account_id, &id, &name, body.enabled).await?;
    Ok(Json(json!(tool)))
}
