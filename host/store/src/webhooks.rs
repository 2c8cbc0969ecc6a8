//! The `webhooks` aggregate (endpoints, their encrypted signing secrets) and the
//! durable delivery outbox, filled in the same transaction that appends an event.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;
use hermes_types::event::Event;

/// A stored webhook endpoint (its secret stays encrypted).
#[derive(Clone, Debug)]
pub struct WebhookRow {
    /// `wh_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types delivered.
    pub events: Vec<String>,
    /// Only this deployment's events, when set.
    pub deployment_id: Option<String>,
    /// The `whsec_…` secret, encrypted (sealed by the secrets crate).
    pub secret: Vec<u8>,
    /// Why deliveries stopped (e.g. the endpoint answered 410); `None` = enabled.
    pub disabled_reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

const COLUMNS: &str = "id, account_id, url, events, deployment_id, secret, disabled_reason, created_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(WebhookRow, String)> {
    Ok((
        WebhookRow {
            id: r.get(0)?,
            account_id: r.get(1)?,
            url: r.get(2)?,
            events: Vec::new(),
            deployment_id: r.get(4)?,
            secret: r.get(5)?,
            disabled_reason: r.get(6)?,
            created_at: r.get(7)?,
        },
        r.get::<_, String>(3)?,
    ))
}

fn decode((mut row, events): (WebhookRow, String)) -> Result<WebhookRow, StoreError> {
    row.events = serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?;
    Ok(row)
}

/// Inserts an endpoint.
pub fn insert(tx: &Tx<'_>, row: &WebhookRow) -> Result<(), StoreError> {
    let conn = tx.sql();
    let events = serde_json::to_string(&row.events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.execute(
        &format!("INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            row.id,
            row.account_id,
            row.url,
            events,
            row.deployment_id,
            row.secret,
            row.disabled_reason,
            row.created_at
        ],
    )?;
    Ok(())
}

/// One endpoint of an account.
pub fn get(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Option<WebhookRow>, StoreError> {
    let conn = tx.sql();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1 AND account_id = ?2"),
        params![id, account_id],
        from_row,
    )
    .optional()?
    .map(decode)
    .transpose()
}

/// An account's endpoints, newest first, after the `cursor` endpoint.
pub fn list(tx: &Tx<'_>, account_id: &str, cursor: Option<&str>, limit: u32) -> Result<Vec<WebhookRow>, StoreError> {
    let conn = tx.sql();
    // rowid breaks ties of endpoints created in the same millisecond.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE account_id = ?1
           AND (?2 IS NULL OR rowid < (SELECT rowid FROM webhooks WHERE id = ?2 AND account_id = ?1))
         ORDER BY rowid DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![account_id, cursor, limit], from_row)?;
    rows.map(|r| decode(r?)).collect()
}

/// Deletes an endpoint and its pending deliveries; false when it does not exist.
pub fn delete(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    conn.execute("DELETE FROM webhook_outbox WHERE webhook_id = ?1 AND EXISTS (SELECT 1 FROM webhooks WHERE id = ?1 AND account_id = ?2)", params![id, account_id])?;
    Ok(conn.execute("DELETE FROM webhooks WHERE id = ?1 AND account_id = ?2", params![id, account_id])? > 0)
}

/// Stops deliveries to an endpoint (it answered 410 Gone) and drops its pending ones.
pub fn disable(tx: &Tx<'_>, id: &str, reason: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute("UPDATE webhooks SET disabled_reason = ?2 WHERE id = ?1", params![id, reason])?;
    conn.execute("DELETE FROM webhook_outbox WHERE webhook_id = ?1", params![id])?;
    Ok(())
}

/// Whether a deployment belongs to the account.
pub fn deployment_in_account(tx: &Tx<'_>, account_id: &str, deployment_id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row(
            "SELECT 1 FROM deployments WHERE id = ?1 AND account_id = ?2",
            params![deployment_id, account_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Deployments whose `features.filesystem_webhooks` is on (watched from startup).
pub fn watched_deployments(tx: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    let conn = tx.sql();
    let mut stmt =
        conn.prepare("SELECT id FROM deployments WHERE json_extract(spec, '$.features.filesystem_webhooks') = 1")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Queues one delivery of `e` per subscribed, enabled endpoint, with the body `body`
/// makes (called only when some endpoint subscribes); runs inside the transaction
/// that appends the event, so an event and its deliveries commit together. Returns
/// how many deliveries were queued.
pub fn enqueue(tx: &Tx<'_>, e: &Event, body: impl FnOnce() -> String, now_ms: i64) -> Result<usize, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT w.id FROM webhooks w
         WHERE w.account_id = (SELECT account_id FROM deployments WHERE id = ?1)
           AND w.disabled_reason IS NULL
           AND (w.deployment_id IS NULL OR w.deployment_id = ?1)
           AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?2)",
    )?;
    let endpoints =
        stmt.query_map(params![e.deployment_id, e.kind], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let body = body();
    let queued = endpoints.len();
    for webhook_id in endpoints {
        conn.prepare_cached(
            "INSERT INTO webhook_outbox (msg_id, webhook_id, body, attempts, next_attempt_ms, created_ms)
             VALUES (?1, ?2, ?3, 0, ?4, ?4)",
        )?
        .execute(params![hermes_types::ids::new_id("msg"), webhook_id, body, now_ms])?;
    }
    Ok(queued)
}

/// A delivery due for an attempt, with what is needed to sign and send it.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Outbox row.
    pub seq: i64,
    /// `webhook-id`: the same on every attempt.
    pub msg_id: String,
    /// Endpoint.
    pub webhook_id: String,
    /// Its account (the secret's associated data).
    pub account_id: String,
    /// Endpoint URL.
    pub url: String,
    /// Encrypted signing secret.
    pub secret: Vec<u8>,
    /// JSON body, signed as is.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was queued (unix ms).
    pub created_ms: i64,
}

/// Deliveries due at `now_ms`, oldest first, at most `limit`.
///
/// At most `per_endpoint` rows of any one endpoint are returned, so an endpoint with
/// a long backlog cannot crowd the others out of the read.
pub fn due(tx: &Tx<'_>, now_ms: i64, limit: u32, per_endpoint: u32) -> Result<Vec<Delivery>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT o.seq, o.msg_id, o.webhook_id, w.account_id, w.url, w.secret, o.body, o.attempts, o.created_ms
         FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY webhook_id ORDER BY next_attempt_ms, seq) AS turn
               FROM webhook_outbox WHERE next_attempt_ms <= ?1) o
         JOIN webhooks w ON w.id = o.webhook_id
         WHERE o.turn <= ?3 ORDER BY o.next_attempt_ms, o.seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, limit, per_endpoint], |r| {
        Ok(Delivery {
            seq: r.get(0)?,
            msg_id: r.get(1)?,
            webhook_id: r.get(2)?,
            account_id: r.get(3)?,
            url: r.get(4)?,
            secret: r.get(5)?,
            body: r.get(6)?,
            attempts: r.get::<_, i64>(7)? as u32,
            created_ms: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Removes a delivered (or abandoned) delivery.
pub fn finish(tx: &Tx<'_>, seq: i64) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute("DELETE FROM webhook_outbox WHERE seq = ?1", params![seq])?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub fn retry_at(tx: &Tx<'_>, seq: i64, next_ms: i64, error: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_ms = ?2, last_error = ?3 WHERE seq = ?1",
        params![seq, next_ms, error],
    )?;
    Ok(())
}

/// Deliveries still queued (all endpoints).
pub fn pending_count(tx: &Tx<'_>) -> Result<u64, StoreError> {
    let conn = tx.sql();
    Ok(conn.query_row("SELECT COUNT(*) FROM webhook_outbox", [], |r| r.get::<_, i64>(0))? as u64)
}

/// When the earliest queued delivery falls due (unix ms), leaving out the rows in
/// `skip_seqs` (being attempted) and every row of the endpoints in `skip_endpoints`
/// (at their share of the worker); `None` when nothing else is queued.
pub fn next_due(tx: &Tx<'_>, skip_seqs: &[i64], skip_endpoints: &[String]) -> Result<Option<i64>, StoreError> {
    let seqs = serde_json::to_string(skip_seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let endpoints = serde_json::to_string(skip_endpoints).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(tx
        .sql()
        .prepare_cached(
            "SELECT min(next_attempt_ms) FROM webhook_outbox
             WHERE seq NOT IN (SELECT value FROM json_each(?1))
               AND webhook_id NOT IN (SELECT value FROM json_each(?2))",
        )?
        .query_row(params![seqs, endpoints], |r| r.get::<_, Option<i64>>(0))?)
}
