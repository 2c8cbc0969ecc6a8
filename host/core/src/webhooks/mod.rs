//! Webhook endpoints and signed deliveries (Standard Webhooks).
//!
//! An endpoint subscribes an account (or one of its deployments) to event types.
//! When an event is appended, one outbox row per subscribed endpoint is written in
//! the same transaction ([`hermes_store::webhooks::enqueue`]); the delivery worker
//! ([`delivery`]) POSTs it, signed, retrying with exponential backoff and jitter
//! until it is acknowledged or the retry period ends. Every attempt of one delivery
//! carries the same `webhook-id`, so receivers deduplicate on it.

pub mod delivery;
mod sign;

use std::sync::Arc;

use serde::Serialize;

pub use sign::{generate_secret, signature};

use crate::HostError;
use crate::handle::Core;
use crate::secrets::SecretValue;
use hermes_events::Event;
use hermes_store::webhooks::{self as store, WebhookRow};
use hermes_types::paging::Page;

/// Event types an endpoint may subscribe to. `token` deltas are excluded: they are
/// a streaming detail (dozens per second) that the `message` event sums up.
pub const EVENT_TYPES: &[&str] = &[
    "filesystem",
    "run_status",
    "steering_request",
    "message",
    "tool_call",
    "tool_result",
    "memory",
    "skill",
    "automation",
    "dream",
    "usage",
    "deployment_status",
];

/// Most endpoints per account.
const MAX_PER_ACCOUNT: usize = 50;
/// Longest accepted URL.
const MAX_URL: usize = 2048;

/// Whether events of this type can be delivered by webhook (cheap filter on the
/// append path: most appended events are `token`s).
pub fn deliverable(kind: &str) -> bool {
    EVENT_TYPES.contains(&kind)
}

/// The signed JSON body of an event's delivery: `{type, timestamp, data}`, the
/// envelope the Standard Webhooks spec recommends; `data` is the SSE `data` object.
pub fn body(event: &Event) -> String {
    serde_json::json!({"type": event.kind, "timestamp": event.created_at, "data": event.to_json()}).to_string()
}

/// Queues each deliverable event's deliveries in the transaction that appends it, and
/// wakes the delivery worker after the commit.
pub(crate) struct OutboxHook {
    signal: Arc<tokio::sync::Notify>,
}

impl OutboxHook {
    /// A hook waking `signal` (the worker's) after commits that may have queued work.
    pub(crate) fn new(signal: Arc<tokio::sync::Notify>) -> OutboxHook {
        OutboxHook { signal }
    }
}

impl hermes_events::CommitHook for OutboxHook {
    fn in_transaction(&self, conn: &hermes_store::Tx<'_>, events: &[Event]) -> Result<(), hermes_store::StoreError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        for e in events.iter().filter(|e| deliverable(&e.kind)) {
            store::enqueue(conn, e, || body(e), now_ms)?;
        }
        Ok(())
    }

    fn committed(&self, events: &[Event]) {
        if events.iter().any(|e| deliverable(&e.kind)) {
            self.signal.notify_one();
        }
    }
}

/// A webhook endpoint as the API shows it (the secret only on creation).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookObject {
    /// `wh_…`
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types delivered.
    pub events: Vec<String>,
    /// Only this deployment's events; absent = every deployment of the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// `enabled`, or `disabled` (see `disabled_reason`).
    pub status: String,
    /// Why deliveries stopped, e.g. the endpoint answered 410 Gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The `whsec_…` signing secret: returned once, on creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookObject {
    fn from_row(row: &WebhookRow, secret: Option<String>) -> WebhookObject {
        WebhookObject {
            id: row.id.clone(),
            url: row.url.clone(),
            events: row.events.clone(),
            deployment_id: row.deployment_id.clone(),
            status: if row.disabled_reason.is_some() { "disabled" } else { "enabled" }.into(),
            disabled_reason: row.disabled_reason.clone(),
            created_at: row.created_at.clone(),
            secret,
        }
    }
}

/// Checks an endpoint URL: http(s), no credentials, and (unless private URLs are
/// allowed) no loopback / private literal address or `localhost`. Names resolving
/// to private addresses are refused again at connect time.
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    if url.len() > MAX_URL {
        return Err(format!("`url` is longer than {MAX_URL} characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("`url` is not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("`url` must be http or https".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("`url` must not carry credentials".into());
    }
    if parsed.host().is_none() {
        return Err("`url` must name a host".into());
    }
    if !allow_private && crate::egress::names_private_host(&parsed) {
        return Err("`url` points to a private or loopback address (set HERMES_ALLOW_PRIVATE_URLS=1 to allow)".into());
    }
    Ok(parsed)
}

fn check_events(events: &[String]) -> Result<Vec<String>, HostError> {
    if events.is_empty() {
        return Err(HostError::invalid(
            "events",
            format!("`events` must name at least one event type: {}", EVENT_TYPES.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if !deliverable(e) {
            return Err(HostError::invalid(
                &format!("events[{i}]"),
                format!("unknown or undeliverable event type {e:?}; choose from {}", EVENT_TYPES.join(", ")),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

impl Core {
    /// Registers a webhook endpoint; the answer carries its `whsec_…` signing
    /// secret, the only time it is shown.
    pub async fn create_webhook(
        &self,
        account_id: &str,
        url: &str,
        events: &[String],
        deployment_id: Option<String>,
    ) -> Result<WebhookObject, HostError> {
        let services = self.services();
        let parsed = check_url(url, services.config.allow_private_urls).map_err(|m| HostError::invalid("url", m))?;
        let events = check_events(events)?;
        let id = hermes_types::ids::new_id("wh");
        let secret = generate_secret();
        let row = WebhookRow {
            secret: services.secrets.seal(account_id, &id, &SecretValue::new(secret.clone())),
            id,
            account_id: account_id.to_string(),
            url: parsed.to_string(),
            events,
            deployment_id,
            disabled_reason: None,
            created_at: hermes_types::ids::now(),
        };
        let stored = row.clone();
        services
            .db
            .write(move |conn| {
                if let Some(dep) = &stored.deployment_id
                    && !store::deployment_in_account(conn, &stored.account_id, dep)?
                {
                    return Ok(Err(HostError::invalid(
                        "deployment_id",
                        format!("no deployment {dep} in this account"),
                    )));
                }
                if store::list(conn, &stored.account_id, None, MAX_PER_ACCOUNT as u32)?.len() >= MAX_PER_ACCOUNT {
                    return Ok(Err(HostError::Conflict(format!(
                        "an account has at most {MAX_PER_ACCOUNT} webhook endpoints; delete one first"
                    ))));
                }
                store::insert(conn, &stored)?;
                Ok(Ok(()))
            })
            .await??;
        tracing::info!(webhook_id = %row.id, account_id, "webhook endpoint created");
        Ok(WebhookObject::from_row(&row, Some(secret)))
    }

    /// An account's webhook endpoints, newest first (`limit` 1–100), after `cursor`.
    pub async fn list_webhooks(
        &self,
        account_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<WebhookObject>, HostError> {
        HostError::check_limit(limit)?;
        let account = account_id.to_string();
        let rows =
            self.services().db.read(move |conn| store::list(conn, &account, cursor.as_deref(), limit + 1)).await?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), |r| WebhookObject::from_row(&r, None)))
    }

    /// One webhook endpoint (never its secret).
    pub async fn webhook(&self, account_id: &str, id: &str) -> Result<WebhookObject, HostError> {
        let (account, key) = (account_id.to_string(), id.to_string());
        self.services()
            .db
            .read(move |conn| store::get(conn, &account, &key))
            .await?
            .map(|r| WebhookObject::from_row(&r, None))
            .ok_or_else(|| HostError::NotFound(format!("webhook {id} not found")))
    }

    /// Deletes a webhook endpoint and drops its pending deliveries.
    pub async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<(), HostError> {
        let (account, key) = (account_id.to_string(), id.to_string());
        if self.services().db.write(move |conn| store::delete(conn, &account, &key)).await? {
            Ok(())
        } else {
            Err(HostError::NotFound(format!("webhook {id} not found")))
        }
    }

    /// Deliveries queued and not yet acknowledged (all endpoints).
    pub async fn pending_webhook_deliveries(&self) -> Result<u64, HostError> {
        Ok(self.services().db.read(store::pending_count).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn private_urls_are_refused_unless_allowed() {
        for url in ["http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/", "http://10.0.0.1/", "ftp://a.com/"] {
            assert!(check_url(url, false).is_err(), "{url}");
        }
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("https://user:pw@example.com/", true).is_err());
        assert!(check_url("https://example.com/hooks", false).is_ok());
    }
}
