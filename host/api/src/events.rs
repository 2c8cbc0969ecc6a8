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
use hermes_core::{Event, Subscription, SubscriptionError};

use super::tenancy::StreamSlot;

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

/// A resume point: `evt_<n>` or a bare sequence.
pub(crate) fn parse_cursor(s: &str) -> Result<u64, ApiError> {
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
    let after = start_after(&state.host, headers, q.after.as_deref(), &id).await?;
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
    Ok(sse(&state.host, sub, slot, move |e| {
        let keep = thread.as_deref().is_none_or(|t| e.thread_id.as_deref() == Some(t))
            && run.as_deref().is_none_or(|r| e.run_id.as_deref() == Some(r));
        let frame = keep.then(|| SseEvent::default().id(e.id()).event(e.kind.clone()).data(e.to_json().to_string()));
        std::future::ready(frame.map_or(Render::Skip, Render::Frame))
    }))
}

/// Where a stream starts: after `Last-Event-ID`, else after `?after=`, else live from
/// now (the hosted docs' "open the stream first, then send"); `?after=0` replays the
/// retained log from its start.
pub(crate) async fn start_after(
    host: &hermes_core::Host,
    headers: &HeaderMap,
    after: Option<&str>,
    deployment_id: &str,
) -> Result<u64, ApiError> {
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty());
    Ok(match (last_event_id, after) {
        (Some(h), _) => parse_cursor(h)?,
        (None, Some(a)) => parse_cursor(a)?,
        (None, None) => host.newest_event(deployment_id).await?.unwrap_or(0),
    })
}

/// What a stream makes of one event.
pub(crate) enum Render {
    /// Send this frame.
    Frame(SseEvent),
    /// Not for this stream.
    Skip,
    /// End the stream (the event could not be rendered).
    End,
}

/// Serves `sub` as SSE, each event through `render`, holding the account's stream
/// `slot` until the client goes. The stream never blocks anyone: events come from the
/// broadcast (or the log when this client lags), and a client too far behind is
/// disconnected with a last comment saying why (it resumes with `Last-Event-ID`).
/// Streams end when the host begins shutting down, so a graceful shutdown never waits
/// on an open event stream.
pub(crate) fn sse<F, Fut>(host: &hermes_core::Host, sub: Subscription, slot: StreamSlot, render: F) -> Response
where
    F: Fn(Event) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Render> + Send,
{
    let frames = futures::stream::unfold(Some(sub), move |sub| {
        let render = render.clone();
        async move {
            let mut sub = sub?;
            loop {
                let e = match sub.next().await {
                    Ok(e) => e,
                    Err(SubscriptionError::Expired(why)) => {
                        tracing::info!(reason = %why, "event stream ended for a slow or expired subscriber");
                        return Some((Ok(SseEvent::default().comment(format!("disconnected: {why}"))), None));
                    }
                    Err(_) => return None,
                };
                match render(e).await {
                    Render::Frame(frame) => return Some((Ok::<_, Infallible>(frame), Some(sub))),
                    Render::Skip => continue,
                    Render::End => return None,
                }
            }
        }
    });
    let frames = futures::StreamExt::take_until(frames, host.stopping().cancelled_owned());
    let frames = futures::StreamExt::map(frames, move |frame| {
        let _held = &slot;
        frame
    });
    Sse::new(frames).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat")).into_response()
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
