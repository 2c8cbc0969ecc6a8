//! `/v1/secrets` and `/v1/usage`.

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
use hermes_core::secrets::SecretValue;

/// Create Secret body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecret {
    /// Label, 1–128 chars of `[A-Za-z0-9_.-]`.
    name: String,
    /// The secret value (write-only: never returned, encrypted at rest).
    #[schema(value_type = String, min_length = 1)]
    value: SecretValue,
    /// Optional caller-chosen id: `sec_` + 1–64 of `[A-Za-z0-9_]` (unique per account).
    #[serde(default)]
    #[schema(nullable = false)]
    id: Option<String>,
    /// Hosts the value may ever be sent to (`api.example.com`, `api.example.com:8443`,
    /// `*.example.com`); absent: any host.
    #[serde(default)]
    allowed_hosts: Option<Vec<String>>,
}

/// Update Secret body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecret {
    /// Replaces the list; `null` allows any host.
    allowed_hosts: Option<Vec<String>>,
}

/// A secret (never its value).
#[derive(Serialize, ToSchema)]
pub struct SecretObject {
    /// `sec_…`
    pub id: String,
    /// Label.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// Hosts the value may be sent to; null: any host.
    pub allowed_hosts: Option<Vec<String>>,
}

/// A page of secrets.
#[derive(Serialize, ToSchema)]
pub struct SecretList {
    /// Newest first.
    pub data: Vec<SecretObject>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// Answer of DELETE.
#[derive(Serialize, ToSchema)]
pub struct SecretDeleted {
    /// The deleted secret.
    pub id: String,
    /// Always true.
    pub deleted: bool,
}

/// One line of the usage report.
#[derive(Serialize, ToSchema)]
pub struct UsageLine {
    /// `dep_…`
    pub deployment_id: String,
    /// `provider/model`.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits: i64,
}

/// Totals of the usage report.
#[derive(Serialize, ToSchema)]
pub struct UsageTotals {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits: i64,
}

/// `GET /v1/usage`.
#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    /// By deployment and model.
    pub data: Vec<UsageLine>,
    /// Sums.
    pub total: UsageTotals,
}

/// `POST /v1/secrets` → 201.
#[utoipa::path(post, path = "/v1/secrets", tag = "secrets", summary = "Create a secret",
    request_body = CreateSecret,
    responses(
        (status = 201, description = "Created; the value is never returned", body = SecretObject),
        CommonErrors,
        (status = 409, description = "The id is taken", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateSecret>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("secrets:write")?;
    let s = state.host.create_secret(&caller.account_id, &body.name, body.value, body.id, body.allowed_hosts).await?;
    Ok((StatusCode::CREATED, Json(json!(s))))
}

/// `GET /v1/secrets`.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", summary = "List secrets",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("starting_after" = Option<String>, Query, description = "Alias of `cursor`"),
    ),
    responses(
        (status = 200, description = "A page, newest first", body = SecretList),
        CommonErrors,
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("secrets:write")?;
    let page = state.host.list_secrets(&caller.account_id, q.cursor().map(str::to_string), q.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `GET /v1/secrets/{id}`.
#[utoipa::path(get, path = "/v1/secrets/{id}", tag = "secrets", summary = "Get a secret (never its value)",
    params(("id" = String, Path, description = "sec_…")),
    responses(
        (status = 200, description = "The secret", body = SecretObject),
        CommonErrors,
        (status = 404, description = "No such secret", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("secrets:write")?;
    Ok(Json(json!(state.host.secret(&caller.account_id, &id).await?)))
}

/// `PATCH /v1/secrets/{id}`: where the value may be sent (never the value itself).
#[utoipa::path(patch, path = "/v1/secrets/{id}", tag = "secrets", summary = "Change where a secret may be sent",
    params(("id" = String, Path, description = "sec_…")),
    request_body = UpdateSecret,
    responses(
        (status = 200, description = "The secret", body = SecretObject),
        CommonErrors,
        (status = 404, description = "No such secret", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<UpdateSecret>,
) -> Result<Json<Value>, ApiError> {
    caller.require("secrets:write")?;
    Ok(Json(json!(state.host.set_secret_hosts(&caller.account_id, &id, body.allowed_hosts).await?)))
}

/// `DELETE /v1/secrets/{id}`.
#[utoipa::path(delete, path = "/v1/secrets/{id}", tag = "secrets", summary = "Delete a secret",
    params(("id" = String, Path, description = "sec_…")),
    responses(
        (status = 200, description = "Deleted", body = SecretDeleted),
        CommonErrors,
        (status = 404, description = "No such secret", body = ErrorBody),
        (status = 409, description = "A deployment still references it", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("secrets:write")?;
    state.host.delete_secret(&caller.account_id, &id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

/// `GET /v1/usage`: model usage by deployment and model (any scope).
#[utoipa::path(get, path = "/v1/usage", tag = "account", summary = "Usage by deployment and model",
    responses(
        (status = 200, description = "Usage and totals", body = UsageReport),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ))]
pub async fn usage(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.host.usage(&caller.account_id).await?)))
}
