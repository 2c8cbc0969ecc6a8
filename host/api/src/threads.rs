//! `/v1/deployments/{id}/threads`: threads (sessions) and their message history.

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

/// Create Thread body.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateThread {
    #[serde(default)]
    title: Option<String>,
}

/// Update Thread body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchThread {
    /// A string, or `null` / `""` to clear the title (required).
    title: Value,
}

/// `POST /v1/deployments/{id}/threads` → 201.
#[utoipa::path(
    post, path = "/v1/deployments/{id}/threads", tag = "conversations", summary = "Create a thread",
    params(("id" = String, Path, description = "dep_…")),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "The thread", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require("messages:write")?;
    // The body is optional: no body (or an empty one) creates an untitled thread.
    let body: CreateThread =
        if body.iter().all(u8::is_ascii_whitespace) { CreateThread::default() } else { super::json::parse(&body)? };
    let thread = state.host.create_thread(&caller.account_id, &id, body.title.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!(thread))))
}

/// `GET /v1/deployments/{id}/threads`.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/threads", tag = "conversations", summary = "List threads",
    params(("id" = String, Path, description = "dep_…"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100), ("cursor" = Option<String>, Query), ("starting_after" = Option<String>, Query)),
    responses(
        (status = 200, description = "A page of threads", body = Object),
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
    let page = state.host.list_threads(&caller.account_id, &id, q.cursor(), q.limit()?).await?;
    Ok(Json(super::paging::page_body(page.data, &page.next_cursor)))
}

/// `GET /v1/deployments/{id}/threads/{thread_id}`: the thread and a page of its messages.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/threads/{thread_id}", tag = "conversations", summary = "A thread and a page of its messages",
    params(("id" = String, Path, description = "dep_…"), ("thread_id" = String, Path), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100), ("messages_cursor" = Option<String>, Query, description = "the previous page's messages_next_cursor"), ("cursor" = Option<String>, Query), ("starting_after" = Option<String>, Query)),
    responses(
        (status = 200, description = "The thread with a page of its history: messages (array), messages_next_cursor, messages_has_more", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, thread_id)): Path<(String, String)>,
    Query(q): Query<ThreadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let q = PageQuery::of(q.limit, q.messages_cursor.or(q.cursor).or(q.starting_after));
    let thread = state.host.thread(&caller.account_id, &id, &thread_id).await?;
    let page = state.host.thread_history(&caller.account_id, &id, &thread_id, q.cursor(), q.limit()?).await?;
    // The hosted shape: `messages` is the array an SDK iterates; the next page is
    // asked for with `messages_cursor`.
    let mut out = json!(thread);
    out["messages"] = json!(page.data);
    out["messages_next_cursor"] = json!(page.next_cursor);
    out["messages_has_more"] = json!(page.next_cursor.is_some());
    Ok(Json(out))
}

/// Query of GET one thread: the page of its messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadQuery {
    #[serde(default)]
    limit: Option<String>,
    /// The previous page's `messages_next_cursor`.
    #[serde(default)]
    messages_cursor: Option<String>,
    /// Alias of `messages_cursor`.
    #[serde(default)]
    cursor: Option<String>,
    /// Alias of `messages_cursor`.
    #[serde(default)]
    starting_after: Option<String>,
}

/// `DELETE /v1/deployments/{id}/threads/{thread_id}`.
#[utoipa::path(
    delete, path = "/v1/deployments/{id}/threads/{thread_id}", tag = "conversations", summary = "Delete a thread",
    params(("id" = String, Path, description = "dep_…"), ("thread_id" = String, Path)),
    responses(
        (status = 200, description = "{thread_id, deleted: true}", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The default thread cannot be deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, thread_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require("messages:write")?;
    state.host.delete_thread(&caller.account_id, &id, &thread_id).await?;
    Ok(Json(json!({"thread_id": thread_id, "deleted": true})))
}

/// `PATCH /v1/deployments/{id}/threads/{thread_id}`.
#[utoipa::path(
    patch, path = "/v1/deployments/{id}/threads/{thread_id}", tag = "conversations", summary = "Rename a thread",
    params(("id" = String, Path, description = "dep_…"), ("thread_id" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "The thread", body = Object),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, thread_id)): Path<(String, String)>,
    Body(body): Body<PatchThread>,
) -> Result<Json<Value>, ApiError> {
    caller.require("messages:write")?;
    let title = match &body.title {
        Value::Null => None,
        Value::String(s) => Some(s.as_str()),
        _ => return Err(ApiError::validation(Some("title".into()), "`title` must be a string or null")),
    };
    let thread = state.host.set_thread_title(&caller.account_id, &id, &thread_id, title).await?;
    Ok(Json(json!(thread)))
}
