//! The `accounts` and `api_keys` aggregates.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::Tx;

/// A stored API key (never its secret).
#[derive(Clone, Debug, Serialize)]
pub struct KeyRow {
    /// `key_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Optional label.
    pub name: Option<String>,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// Creates an account if it does not exist yet; returns whether it was created.
pub fn ensure_account(tx: &Tx<'_>, id: &str, credits: i64, now: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "INSERT OR IGNORE INTO accounts (id, credits, created_at) VALUES (?1, ?2, ?3)",
        params![id, credits, now],
    )?;
    Ok(n == 1)
}

/// An account's credit balance.
pub fn credits(tx: &Tx<'_>, id: &str) -> Result<Option<i64>, StoreError> {
    let conn = tx.sql();
    Ok(conn.query_row("SELECT credits FROM accounts WHERE id = ?1", params![id], |r| r.get(0)).optional()?)
}

/// Sets (or, with `add`, adjusts) the balance; returns the new balance.
pub fn set_credits(tx: &Tx<'_>, id: &str, amount: i64, add: bool) -> Result<i64, StoreError> {
    let conn = tx.sql();
    let sql = if add {
        "UPDATE accounts SET credits = credits + ?2 WHERE id = ?1"
    } else {
        "UPDATE accounts SET credits = ?2 WHERE id = ?1"
    };
    if conn.execute(sql, params![id, amount])? == 0 {
        return Err(StoreError::NotFound(format!("account {id}")));
    }
    Ok(conn.query_row("SELECT credits FROM accounts WHERE id = ?1", params![id], |r| r.get(0))?)
}

/// Stores a key by its hash.
pub fn insert_key(tx: &Tx<'_>, row: &KeyRow, hash: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO api_keys (id, account_id, name, hash, prefix, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![row.id, row.account_id, row.name, hash, row.prefix, row.scopes.join(","), row.created_at],
    )?;
    Ok(())
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    let scopes: String = r.get(4)?;
    Ok(KeyRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

/// The live key with this hash.
pub fn key_by_hash(tx: &Tx<'_>, hash: &str) -> Result<Option<KeyRow>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached(
            "SELECT id, account_id, name, prefix, scopes, created_at, revoked_at FROM api_keys
             WHERE hash = ?1 AND revoked_at IS NULL",
        )?
        .query_row(params![hash], key_from_row)
        .optional()?)
}

/// Keys of an account, newest first.
pub fn list_keys(tx: &Tx<'_>, account_id: &str) -> Result<Vec<KeyRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare(
        "SELECT id, account_id, name, prefix, scopes, created_at, revoked_at FROM api_keys
         WHERE account_id = ?1 ORDER BY created_at DESC, id",
    )?;
    let rows = stmt.query_map(params![account_id], key_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Revokes a key; false if there was no such live key.
pub fn revoke_key(tx: &Tx<'_>, account_id: &str, id: &str, now: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute(
        "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL",
        params![id, account_id, now],
    )? == 1)
}

/// How many accounts exist (the first start creates the default one).
pub fn count(tx: &Tx<'_>) -> Result<i64, StoreError> {
    Ok(tx.sql().query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?)
}

/// The model providers an account may use; `None`: every configured one.
pub fn providers(tx: &Tx<'_>, id: &str) -> Result<Option<Vec<String>>, StoreError> {
    let conn = tx.sql();
    let raw: Option<Option<String>> =
        conn.query_row("SELECT providers FROM accounts WHERE id = ?1", params![id], |r| r.get(0)).optional()?;
    // An unreadable list admits nothing rather than everything.
    Ok(raw.flatten().map(|j| serde_json::from_str(&j).unwrap_or_default()))
}

/// Replaces an account's provider allowlist (`None`: all); false when there is no such account.
pub fn set_providers(tx: &Tx<'_>, id: &str, providers: &Option<Vec<String>>) -> Result<bool, StoreError> {
    let json = providers.as_ref().map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()));
    Ok(tx.sql().execute("UPDATE accounts SET providers = ?2 WHERE id = ?1", params![id, json])? == 1)
}
