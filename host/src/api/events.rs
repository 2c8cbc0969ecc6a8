//! `GET /v1/deployments/{id}/events`: SSE with exact resume and filters.

use std::convert::Infallible;
use std::time::Duration;

use super::extract::{Path, Query};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;

use super::{ApiError, AppState, Caller};

/// Query parameters of the stream.
#[derive(Deserialize)]
pub struct StreamQuery {
    after: Option<String>,
    thread_id: Option<String>,
    run_id: Option<String>,
}

fn parse_cursor(s: &str) -> Result<u64, ApiError> {
    s.trim().trim_start_matches("evt_").parse().map_err(|_| {
        ApiError::validation(Some("after".into()), format!("{s:?} is not an event id (evt_<n>) or sequence"))
    })
}

/// The SSE stream.
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    caller.require("events:read")?;
    state.host.deployment_in(&caller.account_id, &id).await?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let after = match (last_event_id, q.after.as_deref()) {
        (Some(h), _) => parse_cursor(h)?,
        (None, Some(a)) => parse_cursor(a)?,
        (None, None) => 0,
    };
    let sub = state.host.subscribe(&id, after).await?;
    let (thread, run) = (q.thread_id, q.run_id);
    let stream = futures::stream::unfold(sub, move |mut sub| {
        let (thread, run) = (thread.clone(), run.clone());
        async move {
            loop {
                let e = sub.next().await.ok()?;
                if thread.as_deref().is_some_and(|t| e.thread_id.as_deref() != Some(t)) {
                    continue;
                }
                if run.as_deref().is_some_and(|r| e.run_id.as_deref() != Some(r)) {
                    continue;
                }
                let frame = SseEvent::default().id(e.id()).event(e.kind.clone()).data(e.to_json().to_string());
                return Some((Ok(frame), sub));
            }
        }
    });
    // Streams end when the host begins shutting down, so a graceful shutdown never
    // waits on an open event stream (clients resume with Last-Event-ID).
    let stream = futures::StreamExt::take_until(stream, state.host.stopping().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat")))
}
