//! `/v1/deployments/{id}/messages` and runs.

use super::extract::Path;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::Body;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::ThreadTarget;
use hermes_core::{Run, RunStatus};

/// Send Message body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    content: String,
    #[serde(default)]
    thread_id: Option<String>,
    #[serde(default)]
    attachments: Vec<hermes_store::threads::Attachment>,
}

/// `POST /v1/deployments/{id}/messages` → 202.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/messages", tag = "conversations", summary = "Send a message",
    params(("id" = String, Path, description = "dep_…")),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 202, description = "{run_id, deployment_id, thread_id, status (hosted run statuses: `running` once accepted), queued}", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 402, description = "No credits", body = ErrorBody),
        (status = 409, description = "deployment_not_ready", body = ErrorBody),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<SendMessage>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("messages:write")?;
    state.host.deployment_in(&caller.account_id, &id).await?;
    let target = match body.thread_id.as_deref() {
        None => ThreadTarget::Default,
        Some("new") => ThreadTarget::New,
        Some(t) => ThreadTarget::Id(t.to_string()),
    };
    let ticket = state.host.send_message_with(&id, body.content, target, body.attachments).await?;
    // The hosted run statuses: an accepted run is `running` even while it waits for an
    // instance slot; `queued` says that it does.
    let queued = ticket.status == RunStatus::Queued.as_str();
    let status = if queued { RunStatus::Running.as_str() } else { ticket.status };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"run_id": ticket.run_id, "deployment_id": id, "thread_id": ticket.thread_id,
                    "status": status, "queued": queued})),
    ))
}

async fn run_of(state: &AppState, caller: &Caller, dep: &str, run_id: &str) -> Result<Run, ApiError> {
    state.host.deployment_in(&caller.account_id, dep).await?;
    let run = state.host.run(run_id).await?;
    if run.deployment_id != dep {
        return Err(ApiError::not_found(format!("run {run_id} not found")));
    }
    Ok(run)
}

fn render(run: &Run) -> Value {
    json!({
        "run_id": run.id,
        "deployment_id": run.deployment_id,
        "thread_id": run.thread_id,
        "parent_run_id": run.parent_run_id,
        "status": run.status,
        "error": run.error.as_ref().map(|m| json!({"message": m})),
        "output": run.output,
        "usage": {"input_tokens": run.input_tokens, "output_tokens": run.output_tokens},
        "timings": {"created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at, "instantiate_us": run.instantiate_us},
    })
}

/// `GET /v1/deployments/{id}/runs/{run_id}`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/runs/{run_id}", tag = "conversations", summary = "Get a run",
    params(("id" = String, Path, description = "dep_…"), ("run_id" = String, Path)),
    responses(
        (status = 200, description = "Status, timings, usage", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(render(&run_of(&state, &caller, &id, &run_id).await?)))
}

/// `POST /v1/deployments/{id}/runs/{run_id}/cancel`.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/runs/{run_id}/cancel", tag = "conversations", summary = "Cancel a run",
    params(("id" = String, Path, description = "dep_…"), ("run_id" = String, Path)),
    responses(
        (status = 200, description = "{run_id, status}", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require("messages:write")?;
    run_of(&state, &caller, &id, &run_id).await?;
    let status = state.host.cancel_run(&run_id).await?;
    Ok(Json(json!({"run_id": run_id, "status": status})))
}
