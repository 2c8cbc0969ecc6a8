//! `/v1/deployments`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::json::Body;
use super::{ApiError, AppState, Caller};
use crate::{Deployment, DeploymentSpec};

fn render(d: &Deployment, base: &str) -> Value {
    json!({
        "deployment_id": d.deployment_id,
        "customer_id": d.customer_id,
        "name": d.name,
        "runtime": d.runtime,
        "status": d.status,
        "model": d.model,
        "thread_id": d.thread_id,
        "error": d.error.as_ref().map(|m| json!({"message": m})),
        "filesystem": {"workspace_path": "/workspace", "persistent": true},
        "events": {"transport": "sse", "url": format!("{base}/v1/deployments/{}/events", d.deployment_id)},
        "warnings": d.warnings,
        "created_at": d.created_at,
    })
}

fn base_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// `POST /v1/deployments`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Body(spec): Body<DeploymentSpec>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("deployments:write")?;
    let d = state.host.create_deployment_in(&caller.account_id, spec).await?;
    Ok((StatusCode::CREATED, Json(render(&d, &base_url(&headers)))))
}

/// `GET /v1/deployments/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let d = state.host.deployment_in(&caller.account_id, &id).await?;
    Ok(Json(render(&d, &base_url(&headers))))
}
