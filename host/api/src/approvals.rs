//! `/v1/deployments/{id}/approvals` (human decisions on gated tool calls) and
//! `…/runs/{run_id}/steer` (a message into a run, in any state).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Path, Query};
use super::json::Body;
use super::paging::PageQuery;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::approvals::{Approval, Verdict};

/// List query: `status` plus the usual paging.
#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// A page of approvals.
#[derive(Serialize, ToSchema)]
pub struct ApprovalList {
    /// Oldest first.
    pub data: Vec<Approval>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// Decide body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// `approve` runs the gated call once; `reject` hands the model the rejection.
    #[schema(value_type = String, example = "approve")]
    pub decision: DecisionWord,
    /// Optional note; with `reject` it reaches the model with the rejection.
    #[serde(default)]
    pub comment: Option<String>,
}

/// `approve` | `reject`.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum DecisionWord {
    /// Run the call.
    Approve,
    /// Do not run it.
    Reject,
}

/// Steer body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Steer {
    /// The user message injected into the run.
    pub content: String,
}

/// `GET /v1/deployments/{id}/approvals`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/approvals", tag = "steering", summary = "List approvals",
    params(
        ("id" = String, Path, description = "dep_…"),
        ("status" = Option<String>, Query, description = "pending | approved | rejected | superseded | expired | cancelled"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100), ("cursor" = Option<String>, Query), ("starting_after" = Option<String>, Query)
    ),
    responses(
        (status = 200, description = "A page of approvals, oldest first", body = ApprovalList),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<ApprovalList>, ApiError> {
    caller.require("deployments:read")?;
    let page = state
        .host
        .list_approvals(&caller.account_id, &id, q.status.as_deref(), q.page.cursor(), q.page.limit()?)
        .await?;
    let has_more = page.next_cursor.is_some();
    Ok(Json(ApprovalList { data: page.data, next_cursor: page.next_cursor, has_more }))
}

/// `GET /v1/deployments/{id}/approvals/{approval_id}`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/approvals/{approval_id}", tag = "steering", summary = "Get an approval",
    params(("id" = String, Path, description = "dep_…"), ("approval_id" = String, Path, description = "apr_…")),
    responses(
        (status = 200, description = "The approval", body = Approval),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, approval_id)): Path<(String, String)>,
) -> Result<Json<Approval>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(state.host.approval(&caller.account_id, &id, &approval_id).await?))
}

/// `POST /v1/deployments/{id}/approvals/{approval_id}`: decide, and resume the run.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/approvals/{approval_id}", tag = "steering", summary = "Approve or reject",
    params(("id" = String, Path, description = "dep_…"), ("approval_id" = String, Path, description = "apr_…")),
    request_body(content = Decide, content_type = "application/json"),
    responses(
        (status = 200, description = "The decided approval; its run resumes", body = Approval),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Already decided (or closed)", body = ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, approval_id)): Path<(String, String)>,
    Body(body): Body<Decide>,
) -> Result<Json<Approval>, ApiError> {
    caller.require("messages:write")?;
    let verdict = match body.decision {
        DecisionWord::Approve => Verdict::Approve,
        DecisionWord::Reject => Verdict::Reject,
    };
    Ok(Json(state.host.decide_approval(&caller.account_id, &id, &approval_id, verdict, body.comment).await?))
}

/// `POST /v1/deployments/{id}/runs/{run_id}/steer` → 202.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/runs/{run_id}/steer", tag = "conversations", summary = "Steer a run",
    params(("id" = String, Path, description = "dep_…"), ("run_id" = String, Path)),
    request_body(content = Steer, content_type = "application/json"),
    responses(
        (status = 202, description = "{run_id, thread_id, status}: delivered at the run's next step; a run waiting on a human takes it as the answer and resumes", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The run already finished", body = ErrorBody),
    )
)]
pub async fn steer(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, run_id)): Path<(String, String)>,
    Body(body): Body<Steer>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("messages:write")?;
    let ticket = state.host.steer_run(&caller.account_id, &id, &run_id, body.content).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(ticket))))
}
