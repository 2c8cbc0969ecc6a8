//! Stored answers of requests sent with an `Idempotency-Key`.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;

/// What a key holds when a request arrives.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The key was free: a placeholder now holds it; execute the request.
    Claimed,
    /// The key was used with another request.
    Mismatch,
    /// The first request with this key is still executing.
    InProgress,
    /// The first request's answer: (status, content type, body).
    Replay(u16, Option<String>, Vec<u8>),
}

/// Purges keys created before `cutoff`, then claims (`account_id`, `key`) for a
/// request hashing to `hash`, or reports what holds it.
pub fn claim(
    tx: &Tx<'_>,
    account_id: &str,
    key: &str,
    hash: &str,
    cutoff: &str,
    now: &str,
) -> Result<Claim, StoreError> {
    let conn = tx.sql();
    conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?1", params![cutoff])?;
    let found = conn
        .query_row(
            "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE account_id = ?1 AND key = ?2",
            params![account_id, key],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(match found {
        None => {
            conn.execute(
                "INSERT INTO idempotency_keys (account_id, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![account_id, key, hash, now],
            )?;
            Claim::Claimed
        }
        Some((h, _, _, _)) if h != hash => Claim::Mismatch,
        Some((_, None, _, _)) => Claim::InProgress,
        Some((_, Some(status), ct, body)) => Claim::Replay(status as u16, ct, body.unwrap_or_default()),
    })
}

/// Stores the answer of a claimed key.
pub fn complete(
    tx: &Tx<'_>,
    account_id: &str,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "UPDATE idempotency_keys SET status = ?3, content_type = ?4, body = ?5 WHERE account_id = ?1 AND key = ?2",
        params![account_id, key, status as i64, content_type, body],
    )?;
    Ok(())
}

/// Frees a claimed key whose request did not produce a storable answer.
pub fn release(tx: &Tx<'_>, account_id: &str, key: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "DELETE FROM idempotency_keys WHERE account_id = ?1 AND key = ?2 AND status IS NULL",
        params![account_id, key],
    )?;
    Ok(())
}
