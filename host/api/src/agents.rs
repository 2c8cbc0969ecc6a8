//! `/v1/agents` and `/v1/sessions`: the hosted agents-and-sessions surface, camelCase as
//! its docs are, over the same core (an agent version is a deployment template, a
//! session a thread of its (agent, user) deployment). Session events are in
//! [`super::sessions`].

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::extract::{Path, Query};
use super::json::Body;
use super::paging::PageQuery;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::agents::{Agent, AgentConfig, NewSession, Session, SessionQuery};

/// A page of this surface: `{data, nextCursor, hasMore}`.
pub(crate) fn page<T: Serialize>(data: Vec<T>, next_cursor: Option<String>) -> Value {
    json!({"data": data, "hasMore": next_cursor.is_some(), "nextCursor": next_cursor})
}

/// A page of agents.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentList {
    /// Newest first.
    pub data: Vec<Agent>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// A page of sessions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    /// Newest first.
    pub data: Vec<Session>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// `POST /v1/agents`.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", summary = "Create an agent (version 1)",
    request_body = AgentConfig,
    responses(
        (status = 201, description = "The agent", body = Agent),
        CommonErrors,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(config): Body<AgentConfig>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    caller.require("deployments:write")?;
    Ok((StatusCode::CREATED, Json(state.host.create_agent(&caller.account_id, config).await?)))
}

/// `GET /v1/agents`.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", summary = "List agents",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
    ),
    responses((status = 200, description = "A page, newest first", body = AgentList), CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let p = state.host.list_agents(&caller.account_id, q.cursor().map(str::to_string), q.limit()?).await?;
    Ok(Json(page(p.data, p.next_cursor)))
}

/// Query of GET one agent.
#[derive(Deserialize)]
pub struct VersionQuery {
    #[serde(default)]
    version: Option<String>,
}

/// `GET /v1/agents/{agent_id}`.
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents", summary = "Get an agent",
    params(
        ("agent_id" = String, Path, description = "agt_…"),
        ("version" = Option<u32>, Query, minimum = 1, description = "An older version; default the newest"),
    ),
    responses(
        (status = 200, description = "The agent", body = Agent),
        CommonErrors,
        (status = 404, description = "No such agent or version", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<Agent>, ApiError> {
    caller.require("deployments:read")?;
    let version =
        match q.version.as_deref() {
            None => None,
            Some(v) => Some(v.parse::<u32>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                ApiError::validation(Some("version".into()), "`version` is a version number (1, 2, …)")
            })?),
        };
    Ok(Json(state.host.agent(&caller.account_id, &id, version).await?))
}

/// Body of an update: any fields of an agent (others are kept), and optionally the
/// `version` the change is based on. (The handler reads it as a JSON object and
/// checks it as an agent; this type describes it in the OpenAPI document.)
#[allow(dead_code)]
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentUpdate {
    /// The version this change was made from; a newer one is a 409.
    version: Option<u32>,
    /// Human-readable name.
    name: Option<String>,
    /// What the agent is for.
    description: Option<String>,
    /// `provider/model`.
    model: Option<String>,
    /// The system prompt.
    instructions: Option<String>,
    /// Tool sets (replaced whole).
    tools: Option<Vec<hermes_core::agents::Toolset>>,
    /// MCP servers (replaced whole).
    mcp_servers: Option<Vec<hermes_core::agents::AgentMcpServer>>,
    /// Skills (replaced whole).
    skills: Option<Vec<hermes_types::spec::SkillSpec>>,
    /// Secret references (replaced whole).
    secrets: Option<BTreeMap<String, String>>,
    /// The vendor's own strings (replaced whole).
    metadata: Option<BTreeMap<String, String>>,
}

/// `POST /v1/agents/{agent_id}`.
#[utoipa::path(post, path = "/v1/agents/{agent_id}", tag = "agents", summary = "Update an agent (makes a new version)",
    params(("agent_id" = String, Path, description = "agt_…")),
    request_body = AgentUpdate,
    responses(
        (status = 200, description = "The agent at its new version (unchanged when nothing changed)", body = Agent),
        CommonErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is past `version`", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Agent>, ApiError> {
    caller.require("deployments:write")?;
    let mut fields = body;
    let version = match fields.remove("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
            ApiError::validation(Some("version".into()), "`version` is the version number the change is based on")
        })?),
    };
    Ok(Json(state.host.update_agent(&caller.account_id, &id, fields, version).await?))
}

/// `PATCH /v1/agents/{agent_id}`: the same as `POST`.
#[utoipa::path(patch, path = "/v1/agents/{agent_id}", tag = "agents", summary = "Update an agent (makes a new version)",
    params(("agent_id" = String, Path, description = "agt_…")),
    request_body = AgentUpdate,
    responses(
        (status = 200, description = "The agent at its new version (unchanged when nothing changed)", body = Agent),
        CommonErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is past `version`", body = ErrorBody),
    ))]
pub async fn patch(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
    body: Body<Map<String, Value>>,
) -> Result<Json<Agent>, ApiError> {
    update(state, caller, id, body).await
}

/// `GET /v1/agents/{agent_id}/versions`.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/versions", tag = "agents", summary = "List an agent's versions",
    params(("agent_id" = String, Path, description = "agt_…")),
    responses(
        (status = 200, description = "Every version, newest first", body = AgentList),
        CommonErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
    ))]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(page(state.host.agent_versions(&caller.account_id, &id).await?, None)))
}

/// `POST /v1/agents/{agent_id}/archive`.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/archive", tag = "agents", summary = "Archive an agent",
    params(("agent_id" = String, Path, description = "agt_…")),
    responses(
        (status = 200, description = "The agent, archived: its sessions stay, it makes no new ones", body = Agent),
        CommonErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
    ))]
pub async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Agent>, ApiError> {
    caller.require("deployments:write")?;
    Ok(Json(state.host.archive_agent(&caller.account_id, &id).await?))
}

/// `POST /v1/agents/{agent_id}/sessions`.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/sessions", tag = "sessions", summary = "Create a session",
    params(("agent_id" = String, Path, description = "agt_…")),
    request_body = NewSession,
    responses(
        (status = 201, description = "The session, pinned to the agent's version", body = Session),
        CommonErrors,
        (status = 404, description = "No such agent or version", body = ErrorBody),
        (status = 409, description = "The agent is archived", body = ErrorBody),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    caller.require("deployments:write")?;
    // The body is optional: a session of no user, titled nothing, is a plain POST.
    let new = if body.iter().all(u8::is_ascii_whitespace) { NewSession::default() } else { super::json::parse(&body)? };
    Ok((StatusCode::CREATED, Json(state.host.create_session(&caller.account_id, &id, new).await?)))
}

/// Query of the session listing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsQuery {
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /v1/sessions`.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", summary = "List sessions",
    params(
        ("agentId" = Option<String>, Query, description = "Only this agent's"),
        ("userId" = Option<String>, Query, description = "Only this user's"),
        ("status" = Option<String>, Query, description = "idle, running, requires_action or archived"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
    ),
    responses((status = 200, description = "A page, newest first", body = SessionList), CommonErrors))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SessionsQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:read")?;
    let paging = PageQuery::of(q.limit, q.cursor);
    let query = SessionQuery { agent_id: q.agent_id, user_id: q.user_id, status: q.status };
    let p = state
        .host
        .list_sessions(&caller.account_id, query, paging.cursor().map(str::to_string), paging.limit()?)
        .await?;
    Ok(Json(page(p.data, p.next_cursor)))
}

/// `GET /v1/sessions/{session_id}`.
#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "sessions", summary = "Get a session",
    params(("session_id" = String, Path, description = "ses_…")),
    responses(
        (status = 200, description = "The session", body = Session),
        CommonErrors,
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    caller.require("deployments:read")?;
    Ok(Json(state.host.session(&caller.account_id, &id).await?))
}

/// Body of a session update.
#[derive(Deserialize, ToSchema)]
pub struct SessionPatch {
    /// A new title (`null` removes it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    title: Option<Option<String>>,
    /// Replaces the metadata.
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// `PATCH /v1/sessions/{session_id}`.
#[utoipa::path(patch, path = "/v1/sessions/{session_id}", tag = "sessions", summary = "Update a session",
    params(("session_id" = String, Path, description = "ses_…")),
    request_body = SessionPatch,
    responses(
        (status = 200, description = "The session", body = Session),
        CommonErrors,
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn patch_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(p): Body<SessionPatch>,
) -> Result<Json<Session>, ApiError> {
    caller.require("deployments:write")?;
    Ok(Json(state.host.update_session(&caller.account_id, &id, p.title, p.metadata).await?))
}

/// `DELETE /v1/sessions/{session_id}`.
#[utoipa::path(delete, path = "/v1/sessions/{session_id}", tag = "sessions", summary = "Delete a session",
    params(("session_id" = String, Path, description = "ses_…")),
    responses(
        (status = 200, description = "Deleted: its thread and run go; the user's workspace and memory stay", body = Value),
        CommonErrors,
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require("deployments:write")?;
    state.host.delete_session(&caller.account_id, &id).await?;
    Ok(Json(json!({"id": id, "type": "session_deleted"})))
}

/// `POST /v1/sessions/{session_id}/archive`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/archive", tag = "sessions", summary = "Archive a session",
    params(("session_id" = String, Path, description = "ses_…")),
    responses(
        (status = 200, description = "The session, archived (its run cancelled)", body = Session),
        CommonErrors,
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn archive_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    caller.require("deployments:write")?;
    Ok(Json(state.host.archive_session(&caller.account_id, &id).await?))
}
