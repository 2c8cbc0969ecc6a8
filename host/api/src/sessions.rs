//! `/v1/sessions/{id}/events`: the session events protocol. A client posts `user.*`
//! events (a message, steering, an interrupt, a tool confirmation) and reads or streams
//! envelopes `{id, type, sessionId, sequence, status, payload, processedAt, createdAt}`
//! of `user.*`, `agent.*` and `session.*` events. The envelopes are the session thread's
//! events of the deployment log, renamed: nothing is stored twice, so order, exact
//! resume and retention are the log's.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::events::Render;
use super::extract::{Path, Query};
use super::json::Body;
use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::Event;
use hermes_core::agents::Session;
use hermes_core::{Host, HostError, ThreadTarget};

/// Most events one `POST …/events` carries.
const MAX_INPUTS: usize = 16;
/// Longest text of one user message.
const MAX_TEXT: usize = 256 * 1024;
/// Log rows read per step while collecting one session's events.
const SCAN: u32 = 500;

/// One event of the session protocol.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// `evt_<sequence>`: pass as `Last-Event-ID` or `after` to resume after it.
    pub id: String,
    /// `user.message`, `agent.message`, `agent.tool_use`, `session.status_idle`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `ses_…`
    pub session_id: String,
    /// Increases along the session (gaps are other sessions' events).
    pub sequence: u64,
    /// Always `processed`: an event is listed once it took effect.
    pub status: &'static str,
    /// The event's own fields.
    pub payload: Value,
    /// RFC 3339: when it took effect.
    pub processed_at: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A page of session events.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeList {
    /// Oldest first.
    pub data: Vec<Envelope>,
    /// Pass as `after` for the next page.
    pub next_cursor: Option<String>,
    /// Whether more events follow now.
    pub has_more: bool,
}

/// Text content: a string, or blocks `[{type: "text", text}]`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text blocks.
    Blocks(Vec<TextBlock>),
}

/// `{type: "text", text}`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct TextBlock {
    /// Always `text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    pub text: String,
}

/// What a client may send.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum Input {
    /// A message from the user: starts a turn (or joins the running one).
    #[serde(rename = "user.message")]
    Message {
        /// What the user says.
        content: Content,
    },
    /// Guidance for the running turn (a message when the session is idle).
    #[serde(rename = "user.steer")]
    Steer {
        /// What the user says.
        content: Content,
    },
    /// Stops the running turn.
    #[serde(rename = "user.interrupt")]
    Interrupt {},
    /// Allows or denies a tool call waiting for confirmation.
    #[serde(rename = "user.tool_confirmation")]
    ToolConfirmation {
        /// The `agent.tool_use` event's `tool_use_id` (or its envelope `id`).
        #[serde(alias = "toolUseId")]
        tool_use_id: String,
        /// `allow` or `deny`.
        result: String,
        /// Told to the agent on a denial.
        #[serde(default, alias = "denyMessage")]
        deny_message: Option<String>,
    },
}

/// `POST …/events` body: `{events: [...]}`.
#[derive(Deserialize, ToSchema)]
pub struct Inputs {
    /// Processed in order; all are checked before the first takes effect.
    pub events: Vec<Input>,
}

/// The answer of `POST …/events`: what each input did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Processed {
    /// One entry per input, in order.
    pub data: Vec<ProcessedInput>,
}

/// What one input did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessedInput {
    /// The input's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ses_…`
    pub session_id: String,
    /// Always `processed`.
    pub status: &'static str,
    /// The turn it started or joined, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// RFC 3339.
    pub processed_at: String,
}

impl Content {
    fn text(&self, param: &str) -> Result<String, ApiError> {
        let text = match self {
            Content::Text(t) => t.clone(),
            Content::Blocks(blocks) => {
                if let Some(b) = blocks.iter().find(|b| b.kind != "text") {
                    return Err(ApiError::validation(
                        Some(param.into()),
                        format!("content blocks of type {:?} are not supported; send `text` blocks", b.kind),
                    ));
                }
                blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n\n")
            }
        };
        if text.trim().is_empty() {
            return Err(ApiError::validation(Some(param.into()), "the message has no text"));
        }
        if text.len() > MAX_TEXT {
            return Err(ApiError::validation(Some(param.into()), format!("a message is at most {MAX_TEXT} bytes")));
        }
        Ok(text)
    }
}

fn text_blocks(text: &str) -> Value {
    json!([{"type": "text", "text": text}])
}

/// The session envelope of a log event of the session's thread, or `None` for the
/// events the protocol does not show (a queued run, the thread-less ones).
async fn envelope(host: &Host, session: &Session, e: &Event) -> Result<Option<Envelope>, HostError> {
    if e.thread_id.as_deref() != Some(session.thread_id.as_str()) {
        return Ok(None);
    }
    // As a `Value`, a missing field reads as null (a `Map` index would panic).
    let payload = Value::Object(e.payload.clone());
    let p = &payload;
    let (kind, payload): (String, Value) = match e.kind.as_str() {
        "message" if p["role"] == "user" => {
            let kind = if p["steering"] == true { "user.steer" } else { "user.message" };
            (kind.to_string(), json!({"content": text_blocks(p["content"].as_str().unwrap_or_default())}))
        }
        "message" => (
            "agent.message".into(),
            json!({"content": text_blocks(p["content"].as_str().unwrap_or_default()), "message_id": p["message_id"]}),
        ),
        "token" => ("agent.message".into(), json!({"delta": p["delta"]})),
        "tool_call" => (
            "agent.tool_use".into(),
            json!({"tool_use_id": p["call_id"], "name": p["name"], "tool": p["tool"], "input": p["arguments"], "origin": p["origin"]}),
        ),
        "tool_result" => (
            "agent.tool_result".into(),
            json!({"tool_use_id": p["call_id"], "name": p["name"], "is_error": p["is_error"], "content": p["result"]}),
        ),
        "steering_request" => (
            "agent.tool_confirmation_request".into(),
            json!({"approval_id": p["approval_id"], "tool": p["tool"], "input": p["arguments"], "summary": p["summary"]}),
        ),
        "run_status" => match p["status"].as_str().unwrap_or_default() {
            "running" => ("session.status_running".into(), json!({})),
            "completed" => ("session.status_idle".into(), json!({"stop_reason": "end_turn"})),
            "error" => {
                ("session.status_idle".into(), json!({"stop_reason": "error", "error": {"message": p["error"]}}))
            }
            "cancelled" => ("session.status_idle".into(), json!({"stop_reason": "interrupted"})),
            "waiting_on_human" => {
                let (event_ids, tool_use_ids) = awaiting(host, session, e).await?;
                (
                    "session.status_idle".into(),
                    json!({"stop_reason": "requires_action", "event_ids": event_ids, "tool_use_ids": tool_use_ids}),
                )
            }
            _ => return Ok(None),
        },
        "user.interrupt" | "user.tool_confirmation" => (e.kind.clone(), p.clone()),
        other => (format!("hermes.{other}"), p.clone()),
    };
    Ok(Some(Envelope {
        id: e.id(),
        kind,
        session_id: session.id.clone(),
        sequence: e.sequence,
        status: "processed",
        payload,
        processed_at: e.created_at.clone(),
        created_at: e.created_at.clone(),
    }))
}

/// The `agent.tool_use` events (ids and tool-use ids) a run waiting on a human waits
/// to have confirmed: its pending approvals' calls.
async fn awaiting(host: &Host, session: &Session, e: &Event) -> Result<(Vec<String>, Vec<String>), HostError> {
    let Some(run_id) = e.run_id.as_deref() else { return Ok((Vec::new(), Vec::new())) };
    let account = host.deployment(&session.deployment_id).await?.account_id;
    let pending = host.list_approvals(&account, &session.deployment_id, Some("pending"), None, 100).await?;
    let (mut event_ids, mut tool_use_ids) = (Vec::new(), Vec::new());
    for a in pending.data.into_iter().filter(|a| a.run_id == run_id) {
        if let Some(seq) = host.tool_call_event(&session.deployment_id, run_id, &a.call_id).await? {
            event_ids.push(format!("evt_{seq}"));
        }
        tool_use_ids.push(a.call_id);
    }
    Ok((event_ids, tool_use_ids))
}

/// `POST /v1/sessions/{session_id}/events`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/events", tag = "sessions", summary = "Send events to a session",
    params(("session_id" = String, Path, description = "ses_…")),
    request_body = Inputs,
    responses(
        (status = 202, description = "Processed, in order", body = Processed),
        CommonErrors,
        (status = 404, description = "No such session, or no such tool use waiting", body = ErrorBody),
        (status = 409, description = "The session is archived, or the tool use is no longer waiting", body = ErrorBody),
    ))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(inputs): Body<Inputs>,
) -> Result<(StatusCode, Json<Processed>), ApiError> {
    caller.require("messages:write")?;
    if inputs.events.is_empty() || inputs.events.len() > MAX_INPUTS {
        return Err(ApiError::validation(Some("events".into()), format!("send 1–{MAX_INPUTS} events")));
    }
    let session = state.host.session(&caller.account_id, &id).await?;
    if session.status == "archived" {
        return Err(HostError::Conflict(format!("session {id} is archived")).into());
    }
    // Checked whole before anything takes effect.
    let mut texts = Vec::with_capacity(inputs.events.len());
    for (i, input) in inputs.events.iter().enumerate() {
        texts.push(match input {
            Input::Message { content } | Input::Steer { content } => {
                Some(content.text(&format!("events[{i}].content"))?)
            }
            Input::ToolConfirmation { result, .. } if !matches!(result.as_str(), "allow" | "deny") => {
                return Err(ApiError::validation(Some(format!("events[{i}].result")), "`result` is `allow` or `deny`"));
            }
            _ => None,
        });
    }
    let mut data = Vec::with_capacity(inputs.events.len());
    for (input, text) in inputs.events.into_iter().zip(texts) {
        let (kind, run_id) = match input {
            Input::Message { .. } | Input::Steer { .. } => {
                let kind = if matches!(input, Input::Message { .. }) { "user.message" } else { "user.steer" };
                let target = ThreadTarget::Id(session.thread_id.clone());
                let ticket = state.host.send_message(&session.deployment_id, text.unwrap_or_default(), target).await?;
                (kind, Some(ticket.run_id))
            }
            Input::Interrupt {} => {
                let run = state.host.active_run_of_thread(&session.thread_id).await?;
                if let Some(run_id) = &run {
                    state.host.cancel_run(run_id).await?;
                }
                state.host.record_session_input(&session, "user.interrupt", json!({"run_id": run})).await?;
                ("user.interrupt", run)
            }
            Input::ToolConfirmation { tool_use_id, result, deny_message } => {
                let run = confirm(&state.host, &caller, &session, &tool_use_id, &result, deny_message.clone()).await?;
                let payload = json!({"tool_use_id": tool_use_id, "result": result, "deny_message": deny_message});
                state.host.record_session_input(&session, "user.tool_confirmation", payload).await?;
                ("user.tool_confirmation", Some(run))
            }
        };
        data.push(ProcessedInput {
            kind: kind.into(),
            session_id: session.id.clone(),
            status: "processed",
            run_id,
            processed_at: hermes_types::ids::now(),
        });
    }
    Ok((StatusCode::ACCEPTED, Json(Processed { data })))
}

/// Decides the pending approval of the session's call `tool_use_id` (a call id, or the
/// `evt_…` id of its `agent.tool_use` envelope); returns the run it resumes.
async fn confirm(
    host: &Host,
    caller: &Caller,
    session: &Session,
    tool_use_id: &str,
    result: &str,
    deny_message: Option<String>,
) -> Result<String, ApiError> {
    let mut call_id = tool_use_id.to_string();
    if let Some(seq) = tool_use_id.strip_prefix("evt_").and_then(|s| s.parse::<u64>().ok()) {
        let found = host.events_after(&session.deployment_id, seq.saturating_sub(1), 1).await?;
        if let Some(e) = found.into_iter().find(|e| e.sequence == seq && e.kind == "tool_call") {
            call_id = e.payload["call_id"].as_str().unwrap_or_default().to_string();
        }
    }
    let pending = host.list_approvals(&caller.account_id, &session.deployment_id, Some("pending"), None, 100).await?;
    let approval =
        pending.data.into_iter().find(|a| a.call_id == call_id && a.thread_id == session.thread_id).ok_or_else(
            || {
                HostError::NotFound(format!(
                    "no tool use {tool_use_id} of session {} is waiting for confirmation",
                    session.id
                ))
            },
        )?;
    let verdict = if result == "allow" {
        hermes_core::approvals::Verdict::Approve
    } else {
        hermes_core::approvals::Verdict::Reject
    };
    host.decide_approval(&caller.account_id, &session.deployment_id, &approval.approval_id, verdict, deny_message)
        .await?;
    Ok(approval.run_id)
}

/// Query of the event list.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `GET /v1/sessions/{session_id}/events`.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/events", tag = "sessions", summary = "List a session's events",
    params(
        ("session_id" = String, Path, description = "ses_…"),
        ("after" = Option<String>, Query, description = "evt_<n> or a sequence: events after it (default from the start)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1–1000, default 100"),
    ),
    responses(
        (status = 200, description = "Oldest first", body = EnvelopeList),
        CommonErrors,
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<EnvelopeList>, ApiError> {
    caller.require("events:read")?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => l.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
            ApiError::validation(Some("limit".into()), "`limit` must be an integer between 1 and 1000")
        })?,
    };
    let mut after = q.after.as_deref().map(super::events::parse_cursor).transpose()?.unwrap_or(0);
    let session = state.host.session(&caller.account_id, &id).await?;
    let mut data = Vec::new();
    let mut has_more = false;
    'scan: loop {
        let batch = state.host.events_after(&session.deployment_id, after, SCAN).await?;
        let Some(last) = batch.last() else { break };
        let end = last.sequence;
        for e in &batch {
            if let Some(env) = envelope(&state.host, &session, e).await? {
                if data.len() == limit {
                    has_more = true;
                    break 'scan;
                }
                data.push(env);
            }
        }
        after = end;
        if batch.len() < SCAN as usize {
            break;
        }
    }
    let next_cursor = has_more.then(|| data.last().map(|e: &Envelope| e.id.clone())).flatten();
    Ok(Json(EnvelopeList { data, next_cursor, has_more }))
}

/// Query of the stream.
#[derive(Deserialize)]
pub struct StreamQuery {
    #[serde(default)]
    after: Option<String>,
}

/// `GET /v1/sessions/{session_id}/events/stream`.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/events/stream", tag = "sessions", summary = "Stream a session's events (SSE)",
    params(
        ("session_id" = String, Path, description = "ses_…"),
        ("after" = Option<String>, Query, description = "evt_<n> or a sequence to resume after; 0 from the start; absent (and no Last-Event-ID): live from now"),
        ("Last-Event-ID" = Option<String>, Header),
    ),
    responses(
        (status = 200, description = "text/event-stream of envelopes", content_type = "text/event-stream", body = String),
        CommonErrors,
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    caller.require("events:read")?;
    let session = state.host.session(&caller.account_id, &id).await?;
    let after = super::events::start_after(&state.host, &headers, q.after.as_deref(), &session.deployment_id).await?;
    let slot = state.tenancy.open_stream(&caller.account_id)?;
    let sub = state.host.subscribe(&session.deployment_id, after).await?;
    let host = state.host.clone();
    Ok(super::events::sse(&state.host, sub, slot, move |e| {
        let (host, session) = (host.clone(), session.clone());
        async move {
            match envelope(&host, &session, &e).await {
                Ok(Some(env)) => {
                    let data = serde_json::to_string(&env).unwrap_or_default();
                    Render::Frame(SseEvent::default().id(env.id.clone()).event(env.kind.clone()).data(data))
                }
                Ok(None) => Render::Skip,
                Err(err) => {
                    tracing::warn!(error = %err, "session stream: an event could not be rendered");
                    Render::End
                }
            }
        }
    }))
}
