//! `/v1/deployments/{id}/automations`: scheduled runs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Path, Query};
use super::json::Body;
use super::paging::PageQuery;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::automations::{Automation, AutomationPatch, Fired, NewAutomation};

/// Create Automation body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAutomation {
    /// 1–100 characters.
    name: String,
    /// Cron (5 fields: `0 9 * * 1`), interval (`every 30m`, `every 2h`, `every 1d`), or
    /// `every minute|hour`, `every day|weekday|weekend|<weekday>[s] at <time>`.
    schedule: String,
    /// IANA zone cron schedules run in (default UTC).
    #[serde(default)]
    timezone: Option<String>,
    /// The message each run starts with.
    instructions: String,
    /// Thread for its runs; absent = a dedicated thread is created.
    #[serde(default)]
    thread_id: Option<String>,
    /// Default true.
    #[serde(default)]
    enabled: Option<bool>,
}

/// Update Automation body: absent fields are kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchAutomation {
    #[serde(default)]
    name: Option<String>,
    /// A new schedule re-anchors intervals at the time of the change.
    #[serde(default)]
    schedule: Option<String>,
    /// `null` = back to UTC.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    timezone: Option<Option<String>>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    thread_id: Option<String>,
    /// `false` pauses; `true` resumes from the first slot after now.
    #[serde(default)]
    enabled: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// A page of automations.
#[derive(serde::Serialize, ToSchema)]
pub struct AutomationList {
    data: Vec<Automation>,
    next_cursor: Option<String>,
    has_more: bool,
}

/// `POST /v1/deployments/{id}/automations` → 201.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/automations", tag = "automations", summary = "Create an automation",
    params(("id" = String, Path, description = "dep_…")),
    request_body = CreateAutomation,
    responses(
        (status = 201, description = "The automation, with `next_run_at`", body = Automation),
        CommonErrors,
        (status = 404, description = "Deployment or thread not found", body = ErrorBody),
        (status = 409, description = "The deployment has the maximum number of automations", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<CreateAutomation>,
) -> Result<(StatusCode, Json<Automation>), ApiError> {
    caller.require("deployments:write")?;
    let new = NewAutomation {
        name: body.name,
        schedule: body.schedule,
        timezone: body.timezone,
        instructions: body.instructions,
        thread_id: body.thread_id,
        enabled: body.enabled,
    };
    let a = state.host.create_automation(&caller.account_id, &id, new).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// `GET /v1/deployments/{id}/automations`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/automations", tag = "automations", summary = "List automations",
    params(("id" = String, Path, description = "dep_…"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100), ("cursor" = Option<String>, Query), ("starting_after" = Option<String>, Query)),
    responses(
        (status = 200, description = "A page of automations, newest first", body = AutomationList),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let page = state.host.list_automations(&caller.account_id, &id, q.cursor(), q.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `GET /v1/deployments/{id}/automations/{aid}`: the automation and its recent runs.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/automations/{aid}", tag = "automations", summary = "An automation and its recent runs",
    params(("id" = String, Path, description = "dep_…"), ("aid" = String, Path, description = "auto_…")),
    responses(
        (status = 200, description = "The automation with `recent_runs`", body = Automation),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Json<Automation>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(state.host.automation(&caller.account_id, &id, &aid).await?))
}

/// `PATCH /v1/deployments/{id}/automations/{aid}`.
#[utoipa::path(
    patch, path = "/v1/deployments/{id}/automations/{aid}", tag = "automations", summary = "Change, pause or resume an automation",
    params(("id" = String, Path, description = "dep_…"), ("aid" = String, Path, description = "auto_…")),
    request_body = PatchAutomation,
    responses(
        (status = 200, description = "The automation", body = Automation),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, aid)): Path<(String, String)>,
    Body(body): Body<PatchAutomation>,
) -> Result<Json<Automation>, ApiError> {
    caller.require("deployments:write")?;
    let change = AutomationPatch {
        name: body.name,
        schedule: body.schedule,
        timezone: body.timezone,
        instructions: body.instructions,
        thread_id: body.thread_id,
        enabled: body.enabled,
    };
    Ok(Json(state.host.patch_automation(&caller.account_id, &id, &aid, change).await?))
}

/// `DELETE /v1/deployments/{id}/automations/{aid}`.
#[utoipa::path(
    delete, path = "/v1/deployments/{id}/automations/{aid}", tag = "automations", summary = "Delete an automation",
    params(("id" = String, Path, description = "dep_…"), ("aid" = String, Path, description = "auto_…")),
    responses(
        (status = 200, description = "`{automation_id, deleted: true}`", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    state.host.delete_automation(&caller.account_id, &id, &aid).await?;
    Ok(Json(json!({"automation_id": aid, "deleted": true})))
}

/// `POST /v1/deployments/{id}/automations/{aid}/run` → 202.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/automations/{aid}/run", tag = "automations", summary = "Run an automation now",
    params(("id" = String, Path, description = "dep_…"), ("aid" = String, Path, description = "auto_…")),
    responses(
        (status = 202, description = "`{automation_id, run_id, thread_id, status: \"queued\"}`", body = Object),
        CommonErrors,
        (status = 402, description = "No credits left", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "A run is already active on its thread, or the deployment is not ready", body = ErrorBody),
    )
)]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, aid)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Fired>), ApiError> {
    caller.require("messages:write")?;
    let fired = state.host.run_automation(&caller.account_id, &id, &aid).await?;
    Ok((StatusCode::ACCEPTED, Json(fired)))
}
