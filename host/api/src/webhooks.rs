//! `/v1/webhooks`: endpoints that receive signed event deliveries.

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
use hermes_core::webhooks::WebhookObject;

/// Create Webhook body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// http(s) URL deliveries are POSTed to (private addresses need `HERMES_ALLOW_PRIVATE_URLS=1`).
    url: String,
    /// Event types to deliver, e.g. `["filesystem", "run_status", "steering_request"]`.
    events: Vec<String>,
    /// Only this deployment's events; omitted = every deployment of the account.
    #[serde(default)]
    #[schema(nullable = false)]
    deployment_id: Option<String>,
}

/// A page of webhook endpoints.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    /// Newest first.
    pub data: Vec<WebhookObject>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// Answer of DELETE.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeleted {
    /// The deleted endpoint.
    pub id: String,
    /// Always true.
    pub deleted: bool,
}

/// `POST /v1/webhooks` → 201 with the signing secret (shown once).
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", summary = "Create a webhook endpoint",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Created; `secret` (whsec_…) is shown only now", body = WebhookObject),
        CommonErrors,
        (status = 409, description = "Too many endpoints", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookObject>), ApiError> {
    caller.require("webhooks:write")?;
    let w = state.host.create_webhook(&caller.account_id, &body.url, &body.events, body.deployment_id).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// `GET /v1/webhooks`.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", summary = "List webhook endpoints",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page, newest first", body = WebhookList),
        CommonErrors,
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("webhooks:write")?;
    let page = state.host.list_webhooks(&caller.account_id, q.cursor().map(str::to_string), q.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `GET /v1/webhooks/{id}`.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", summary = "Get a webhook endpoint",
    params(("webhook_id" = String, Path, description = "wh_…")),
    responses(
        (status = 200, description = "The endpoint (never its secret)", body = WebhookObject),
        CommonErrors,
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookObject>, ApiError> {
    caller.require("webhooks:write")?;
    Ok(Json(state.host.webhook(&caller.account_id, &id).await?))
}

/// `DELETE /v1/webhooks/{id}`.
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", summary = "Delete a webhook endpoint",
    params(("webhook_id" = String, Path, description = "wh_…")),
    responses(
        (status = 200, description = "Deleted; its pending deliveries are dropped", body = WebhookDeleted),
        CommonErrors,
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("webhooks:write")?;
    state.host.delete_webhook(&caller.account_id, &id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}
