//! `GET /v1/deployments/{id}/events`: SSE with exact resume and filters.

use std::convert::Infallible;
use std::time::Duration;

use super::extract::{Path, Query};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::schema::{CommonErrors, ErrorBody};
use super::{ApiError, AppState, Caller};
use hermes_core::SubscriptionError;

/// Query parameters of the stream.
#[derive(Deserialize)]
pub struct StreamQuery {
    after: Option<String>,
    thread_id: Option<String>,
    run_id: Option<String>,
    /// The API key, for clients that cannot set headers (a browser's `EventSource`).
    /// Accepted on this endpoint only.
    access_token: Option<String>,
}

fn parse_cursor(s: &str) -> Result<u64, ApiError> {
    s.trim().trim_start_matches("evt_").parse().map_err(|_| {
        ApiError::validation(Some("after".into()), format!("{s:?} is not an event id (evt_<n>) or sequence"))
    })
}

/// The caller: `Authorization: Bearer` when present, else `?access_token=`.
async fn caller(parts: &mut Parts, state: &AppState, token: Option<&str>) -> Result<Caller, ApiError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return Caller::from_request_parts(parts, state).await;
    }
    let Some(secret) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(ApiError::unauthorized(
            "missing `Authorization: Bearer <api key>` header (or `access_token` query parameter)",
        ));
    };
    super::auth::authenticate(state, secret).await
}

/// The SSE stream.
#[utoipa::path(
    get, path = "/v1/deployments/{id}/events", tag = "conversations", summary = "Stream events (SSE)",
    params(("id" = String, Path, description = "dep_…"), ("after" = Option<String>, Query, description = "evt_<n> or a sequence to resume after; 0 replays the retained log; absent (and no Last-Event-ID): live from now"), ("thread_id" = Option<String>, Query), ("run_id" = Option<String>, Query), ("access_token" = Option<String>, Query, description = "API key, for EventSource clients that cannot set headers"), ("Last-Event-ID" = Option<String>, Header)),
    responses(
        (status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String),
        CommonErrors,
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 410, description = "events_expired: the resume point was pruned", body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
    mut parts: Parts,
) -> Result<Response, ApiError> {
    let caller = caller(&mut parts, &state, q.access_token.as_deref()).await?;
    let headers: &HeaderMap = &parts.headers;
    caller.require("events:read")?;
    state.host.deployment_in(&caller.account_id, &id).await?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty());
    let after = match (last_event_id, q.after.as_deref()) {
        (Some(h), _) => parse_cursor(h)?,
        (None, Some(a)) => parse_cursor(a)?,
        // No cursor: live from now, as the hosted docs promise a client that opens the
        // stream before sending ("so you catch every event from the run you're about
        // to start"); `?after=0` replays the retained log from its start.
        (None, None) => state.host.newest_event(&id).await?.unwrap_or(0),
    };
    // A resume point older than what retention kept cannot be served exactly.
    if after > 0
        && let Some(oldest) = state.host.oldest_event(&id).await?
        && oldest > after + 1
    {
        return Ok(expired(after, oldest));
    }
    // Held by the stream: the account's slot frees when the client goes.
    let slot = state.tenancy.open_stream(&caller.account_id)?;
    let sub = state.host.subscribe(&id, after).await?;
    let (thread, run) = (q.thread_id, q.run_id);
    // The stream never blocks anyone: events come from the broadcast (or the log when
    // this client lags), and a client too far behind is disconnected.
    let stream = futures::stream::unfold(Some(sub), move |sub| {
        let (thread, run) = (thread.clone(), run.clone());
        async move {
            let mut sub = sub?;
            loop {
                let e = match sub.next().await {
                    Ok(e) => e,
                    Err(SubscriptionError::Expired(why)) => {
                        // A last comment says why; the client resumes with Last-Event-ID.
                        tracing::info!(reason = %why, "event stream ended for a slow or expired subscriber");
                        return Some((Ok(SseEvent::default().comment(format!("disconnected: {why}"))), None));
                    }
                    Err(_) => return None,
                };
                if thread.as_deref().is_some_and(|t| e.thread_id.as_deref() != Some(t)) {
                    continue;
                }
                if run.as_deref().is_some_and(|r| e.run_id.as_deref() != Some(r)) {
                    continue;
                }
                let frame = SseEvent::default().id(e.id()).event(e.kind.clone()).data(e.to_json().to_string());
                return Some((Ok::<_, Infallible>(frame), Some(sub)));
            }
        }
    });
    // Streams end when the host begins shutting down, so a graceful shutdown never
    // waits on an open event stream (clients resume with Last-Event-ID).
    let stream = futures::StreamExt::take_until(stream, state.host.stopping().cancelled_owned());
    let stream = futures::StreamExt::map(stream, move |frame| {
        let _held = &slot;
        frame
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat"))
        .into_response())
}

/// 410 `events_expired`.
fn expired(after: u64, oldest: u64) -> Response {
    let message = format!(
        "events after evt_{after} are no longer retained (the oldest kept is evt_{oldest}); \
         resume from ?after={} to continue with a gap, or start over without a cursor",
        oldest - 1
    );
    ApiError::new(StatusCode::GONE, "events_expired", message).into_response()
}
