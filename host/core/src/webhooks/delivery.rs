//! The delivery worker: takes due rows from the outbox, signs and POSTs them, and
//! records the outcome. At least once: a row leaves the outbox only after a 2xx
//! (or when its endpoint is gone / its retry period is over), so a crash or restart
//! between attempts only means the next start sends it again, same `webhook-id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio::sync::{Semaphore, mpsc};

use super::{check_url, signature};
use crate::config::WebhooksConfig;
use crate::services::Services;
use hermes_store::webhooks::{self as store, Delivery};

/// Longest the worker sleeps without looking at the outbox (a safety net: new rows
/// and finished attempts wake it sooner).
const IDLE_POLL: Duration = Duration::from_secs(30);

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    /// 2xx: done.
    Delivered,
    /// 410 Gone: the endpoint asked never to be called again.
    Gone,
    /// Anything else: retry later (the reason is recorded).
    Failed(String),
    /// It can never succeed (e.g. its secret no longer decrypts): drop it.
    Abandon(String),
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Wait before attempt `failures + 1`: exponential from `initial_backoff_ms`, capped at
/// `max_backoff_secs`, with "equal jitter" (half fixed, half random) so endpoints that
/// failed together do not retry in lockstep.
pub fn backoff(config: &WebhooksConfig, failures: u32) -> Duration {
    let cap = config.max_backoff_secs.saturating_mul(1000).max(1);
    let exp = config.initial_backoff_ms.max(1).saturating_mul(1u64 << failures.saturating_sub(1).min(32)).min(cap);
    let half = exp / 2;
    Duration::from_millis(half + rand::random_range(0..=exp - half))
}

/// Starts the worker; it stops when the host shuts down.
pub(crate) fn spawn(services: Arc<Services>, signal: Arc<tokio::sync::Notify>) {
    let client = match crate::egress::client(services.config.allow_private_urls) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook deliveries are off: cannot build the HTTP client");
            return;
        }
    };
    services.clone().tasks.spawn(run(services, client, signal));
}

async fn run(services: Arc<Services>, client: reqwest::Client, signal: Arc<tokio::sync::Notify>) {
    let config = services.config.webhooks.clone();
    // Outbox rows being attempted, with their endpoint.
    let in_flight: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    // One slow endpoint may hold only this many of the worker's slots, so the other
    // endpoints' deliveries keep flowing past its backlog.
    let per_endpoint = (config.concurrency / 4).max(1);
    // Rows whose attempt has been recorded. They leave `in_flight` only at the top of
    // the next pass, before the outbox is read again: a read that began before the
    // outcome was written must not see the row as free and send it a second time.
    let finished: Arc<Mutex<Vec<i64>>> = Arc::default();
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    loop {
        // Registered before the outbox is read, so a commit in between still wakes us.
        let notified = signal.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let done: Vec<i64> = finished.lock().map(|mut f| std::mem::take(&mut *f)).unwrap_or_default();
        if let Ok(mut s) = in_flight.lock() {
            for seq in done {
                s.remove(&seq);
            }
        }
        let busy = in_flight.lock().map(|s| s.len()).unwrap_or(0) as u32;
        let now = now_ms();
        let window = (2 * per_endpoint) as u32;
        let due = match services.db.read(move |conn| store::due(conn, now, 64 + busy, window)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "reading the webhook outbox");
                tokio::select! {
                    _ = services.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let mut waiting = false;
        for d in due {
            let admitted = in_flight.lock().map(|mut s| {
                let endpoint_busy = s.values().filter(|w| **w == d.webhook_id).count();
                if s.contains_key(&d.seq) || endpoint_busy >= per_endpoint {
                    return false;
                }
                s.insert(d.seq, d.webhook_id.clone());
                true
            });
            if !admitted.unwrap_or(false) {
                continue;
            }
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                if let Ok(mut s) = in_flight.lock() {
                    s.remove(&d.seq);
                }
                waiting = true;
                break;
            };
            let (services, client, finished, done) =
                (services.clone(), client.clone(), finished.clone(), done_tx.clone());
            let tasks = services.tasks.clone();
            tasks.spawn(async move {
                let span = delivery_span(&services, &d).await;
                let outcome = tracing::Instrument::instrument(attempt(&services, &client, &d), span.clone()).await;
                if !matches!(outcome, Outcome::Delivered) {
                    span.record("otel.status_code", "ERROR");
                }
                record(&services, &d, outcome).await;
                if let Ok(mut f) = finished.lock() {
                    f.push(d.seq);
                }
                drop(permit);
                let _ = done.send(());
            });
        }
        let sleep = if waiting { IDLE_POLL } else { next_wait(&services, &in_flight, per_endpoint).await };
        tokio::select! {
            _ = services.shutdown.cancelled() => return,
            _ = &mut notified => {}
            _ = done_rx.recv() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// How long until the earliest queued delivery that could start falls due: not in
/// flight, and not of an endpoint already holding its share of the worker (a finished
/// attempt wakes the worker for those).
async fn next_wait(services: &Services, in_flight: &Mutex<HashMap<i64, String>>, per_endpoint: usize) -> Duration {
    let (seqs, saturated) = in_flight
        .lock()
        .map(|s| {
            let mut count: HashMap<&String, usize> = HashMap::new();
            for w in s.values() {
                *count.entry(w).or_default() += 1;
            }
            let saturated: Vec<String> =
                count.into_iter().filter(|(_, n)| *n >= per_endpoint).map(|(w, _)| w.clone()).collect();
            (s.keys().copied().collect::<Vec<i64>>(), saturated)
        })
        .unwrap_or_default();
    let next = services.db.read(move |conn| store::next_due(conn, &seqs, &saturated)).await.unwrap_or_default();
    match next {
        Some(at) => Duration::from_millis((at - now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64),
        None => IDLE_POLL,
    }
}

/// The client span of one delivery attempt, in the trace of the run whose event it
/// carries (when that run was traced), so a receiver's spans join the run's trace.
async fn delivery_span(services: &Services, d: &Delivery) -> tracing::Span {
    let span = tracing::info_span!(
        parent: None,
        "webhook",
        otel.name = "POST",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = "POST",
        http.response.status_code = tracing::field::Empty,
        hermes.webhook_id = %d.webhook_id,
        hermes.webhook_message_id = %d.msg_id,
    );
    if !hermes_telemetry::requested() {
        return span;
    }
    let body = serde_json::from_str::<serde_json::Value>(&d.body).ok();
    if let Some(run_id) = body.as_ref().and_then(|b| b.pointer("/data/run_id")).and_then(|r| r.as_str()) {
        crate::trace::join_run_trace(&services.db, &span, run_id).await;
    }
    span
}

/// One signed POST.
async fn attempt(services: &Services, client: &reqwest::Client, d: &Delivery) -> Outcome {
    let url = match check_url(&d.url, services.config.allow_private_urls) {
        Ok(u) => u,
        Err(e) => return Outcome::Failed(e),
    };
    let secret = match services.secrets.unseal(&d.account_id, &d.webhook_id, &d.secret) {
        Ok(s) => s,
        Err(e) => return Outcome::Abandon(e.to_string()),
    };
    // Each attempt is signed with its own timestamp (receivers refuse stale ones);
    // the id stays the delivery's.
    let timestamp = chrono::Utc::now().timestamp();
    let Some(sig) = signature(secret.expose(), &d.msg_id, timestamp, &d.body) else {
        return Outcome::Abandon("the stored signing secret is malformed".into());
    };
    drop(secret);
    let resp = client
        .post(url)
        .timeout(Duration::from_secs(services.config.webhooks.timeout_secs.max(1)))
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("webhook-id", &d.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sig)
        .headers(trace_headers())
        .body(d.body.clone())
        .send()
        .await;
    if let Ok(r) = &resp {
        tracing::Span::current().record("http.response.status_code", i64::from(r.status().as_u16()));
    }
    match resp {
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) if r.status() == reqwest::StatusCode::GONE => Outcome::Gone,
        Ok(r) => Outcome::Failed(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Outcome::Failed("timed out".into()),
        Err(e) => Outcome::Failed(format!("request failed: {e}")),
    }
}

/// `traceparent` of the current (delivery) span, when the host is traced.
fn trace_headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    hermes_telemetry::inject(&mut headers);
    headers
}

/// Writes an attempt's outcome to the outbox.
async fn record(services: &Services, d: &Delivery, outcome: Outcome) {
    let config = &services.config.webhooks;
    let attempt_no = d.attempts + 1;
    let (seq, webhook_id) = (d.seq, d.webhook_id.clone());
    hermes_metrics::global().webhook(matches!(outcome, Outcome::Delivered));
    let written = match outcome {
        Outcome::Delivered => {
            tracing::debug!(webhook_id = %d.webhook_id, msg_id = %d.msg_id, attempt = attempt_no, "webhook delivered");
            services.db.write(move |conn| store::finish(conn, seq)).await
        }
        Outcome::Gone => {
            tracing::warn!(webhook_id = %d.webhook_id, msg_id = %d.msg_id, "webhook endpoint answered 410 Gone: disabled");
            let reason = format!("the endpoint answered 410 Gone at {}", hermes_types::ids::now());
            services.db.write(move |conn| store::disable(conn, &webhook_id, &reason)).await
        }
        Outcome::Abandon(why) => {
            tracing::error!(webhook_id = %d.webhook_id, msg_id = %d.msg_id, reason = %why, "webhook delivery dropped");
            services.db.write(move |conn| store::finish(conn, seq)).await
        }
        Outcome::Failed(why) => {
            let now = now_ms();
            let deadline = d.created_ms.saturating_add(config.retry_period_secs.saturating_mul(1000) as i64);
            if now >= deadline {
                tracing::warn!(webhook_id = %d.webhook_id, msg_id = %d.msg_id, attempts = attempt_no, reason = %why,
                    "webhook delivery abandoned: retry period over");
                services.db.write(move |conn| store::finish(conn, seq)).await
            } else {
                let next = now.saturating_add(backoff(config, attempt_no).as_millis() as i64).min(deadline);
                tracing::info!(webhook_id = %d.webhook_id, msg_id = %d.msg_id, attempt = attempt_no, reason = %why,
                    retry_in_ms = next - now, "webhook delivery failed; will retry");
                services.db.write(move |conn| store::retry_at(conn, seq, next, &why)).await
            }
        }
    };
    if let Err(e) = written {
        // The row stays as it was: it is attempted again (at least once).
        tracing::error!(error = %e, msg_id = %d.msg_id, "recording a webhook attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let c = WebhooksConfig { initial_backoff_ms: 1000, max_backoff_secs: 8, ..WebhooksConfig::default() };
        for _ in 0..50 {
            let first = backoff(&c, 1).as_millis();
            assert!((500..=1000).contains(&first), "{first}");
            let third = backoff(&c, 3).as_millis();
            assert!((2000..=4000).contains(&third), "{third}");
            let late = backoff(&c, 40).as_millis();
            assert!((4000..=8000).contains(&late), "{late}");
        }
    }
}
