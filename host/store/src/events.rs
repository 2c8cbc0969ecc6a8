//! The per-deployment event log: a gap-free sequence per deployment.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;
use hermes_types::event::{Event, NewEvent};

/// Appends an event, assigning the next sequence number of its deployment.
pub fn append(tx: &Tx<'_>, e: NewEvent, now: &str) -> Result<Event, StoreError> {
    let conn = tx.sql();
    let seq: u64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE deployment_id = ?1")?
        .query_row(params![e.deployment_id], |r| r.get::<_, i64>(0))? as u64;
    let event = Event {
        sequence: seq,
        kind: e.kind,
        deployment_id: e.deployment_id,
        thread_id: e.thread_id,
        run_id: e.run_id,
        created_at: now.to_string(),
        payload: e.payload,
    };
    let data = serde_json::to_string(&event.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO events (deployment_id, seq, type, thread_id, run_id, created_at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        event.deployment_id,
        seq as i64,
        event.kind,
        event.thread_id,
        event.run_id,
        event.created_at,
        data
    ])?;
    Ok(event)
}

/// Events of a deployment with sequence > `after`, oldest first, at most `limit`.
pub fn after(tx: &Tx<'_>, deployment_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT seq, type, thread_id, run_id, created_at, data FROM events
         WHERE deployment_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![deployment_id, after as i64, limit], |r| {
        Ok((
            r.get::<_, i64>(0)? as u64,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (sequence, kind, thread_id, run_id, created_at, data) = row?;
        let payload = serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
        out.push(Event {
            sequence,
            kind,
            deployment_id: deployment_id.to_string(),
            thread_id,
            run_id,
            created_at,
            payload,
        });
    }
    Ok(out)
}

/// The latest sequence of a deployment (0 when it has no events).
pub fn latest(tx: &Tx<'_>, deployment_id: &str) -> Result<u64, StoreError> {
    let conn = tx.sql();
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE deployment_id = ?1",
        params![deployment_id],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// The oldest sequence a deployment still has (`None` when it has no events).
pub fn oldest(tx: &Tx<'_>, deployment_id: &str) -> Result<Option<u64>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row("SELECT MIN(seq) FROM events WHERE deployment_id = ?1", params![deployment_id], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .map(|v| v as u64))
}

/// The sequence of a deployment's newest event, if it has any.
pub fn newest(tx: &Tx<'_>, deployment_id: &str) -> Result<Option<u64>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached("SELECT MAX(seq) FROM events WHERE deployment_id = ?1")?
        .query_row(params![deployment_id], |r| r.get::<_, Option<i64>>(0))?
        .map(|v| v as u64))
}

/// Every deployment with events: (deployment, oldest sequence, latest sequence).
pub fn spans(tx: &Tx<'_>) -> Result<Vec<(String, u64, u64)>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare("SELECT deployment_id, MIN(seq), MAX(seq) FROM events GROUP BY deployment_id")?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The first sequence of a deployment created at or after `cutoff` (RFC 3339),
/// scanning from the oldest; `None` when every event is older.
pub fn first_since(tx: &Tx<'_>, deployment_id: &str, cutoff: &str) -> Result<Option<u64>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row(
            "SELECT seq FROM events WHERE deployment_id = ?1 AND created_at >= ?2 ORDER BY seq LIMIT 1",
            params![deployment_id, cutoff],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|v| v as u64))
}

/// Deletes a deployment's events with `from <= seq < to`; returns how many.
pub fn delete_range(tx: &Tx<'_>, deployment_id: &str, from: u64, to: u64) -> Result<u64, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute(
        "DELETE FROM events WHERE deployment_id = ?1 AND seq >= ?2 AND seq < ?3",
        params![deployment_id, from as i64, to as i64],
    )? as u64)
}

/// The sequence of the `tool_call` event that announced call `call_id` of run `run_id`.
pub fn tool_call_sequence(
    tx: &Tx<'_>,
    deployment_id: &str,
    run_id: &str,
    call_id: &str,
) -> Result<Option<u64>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(
            "SELECT seq FROM events WHERE deployment_id = ?1 AND run_id = ?2 AND type = 'tool_call'
               AND json_extract(data, '$.call_id') = ?3 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![deployment_id, run_id, call_id], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|s| s as u64))
}
