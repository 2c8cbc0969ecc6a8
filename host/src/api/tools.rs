//! `/v1/deployments/{id}/tools`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::Body;
use super::{ApiError, AppState, Caller};

/// `GET …/tools`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let tools = state.host.tools(&caller.account_id, &id).await?;
    Ok(Json(json!({"data": tools})))
}

/// PATCH body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetEnabled {
    enabled: bool,
}

/// `PATCH …/tools/{name}`.
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
