//! The `secrets` aggregate: names and ciphertexts (never plaintext), per account.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;

/// A stored secret (its value stays encrypted).
#[derive(Clone, Debug)]
pub struct SecretRow {
    /// `sec_…`, unique within the account.
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Label, `[A-Za-z0-9_.-]{1,128}`.
    pub name: String,
    /// Sealed by the secrets crate (its `crypto` module documents the format).
    pub ciphertext: Vec<u8>,
    /// RFC 3339.
    pub created_at: String,
    /// Host patterns the value may be sent to; `None`: any host.
    pub allowed_hosts: Option<Vec<String>>,
}

const COLUMNS: &str = "id, account_id, name, ciphertext, created_at, allowed_hosts";

fn hosts_json(hosts: &Option<Vec<String>>) -> Option<String> {
    hosts.as_ref().map(|h| serde_json::to_string(h).unwrap_or_else(|_| "[]".into()))
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        ciphertext: r.get(3)?,
        created_at: r.get(4)?,
        // An unreadable list admits nothing rather than everything.
        allowed_hosts: r.get::<_, Option<String>>(5)?.map(|j| serde_json::from_str(&j).unwrap_or_default()),
    })
}

/// Inserts a secret; a taken id is a conflict.
pub fn insert(tx: &Tx<'_>, row: &SecretRow) -> Result<(), StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "INSERT OR IGNORE INTO secrets (id, account_id, name, ciphertext, created_at, allowed_hosts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![row.id, row.account_id, row.name, row.ciphertext, row.created_at, hosts_json(&row.allowed_hosts)],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("a secret with id {} already exists", row.id)));
    }
    Ok(())
}

/// Loads one secret of an account.
pub fn get(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Option<SecretRow>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM secrets WHERE account_id = ?1 AND id = ?2"))?
        .query_row(params![account_id, id], from_row)
        .optional()?)
}

/// One page of an account's secrets, newest first, after the cursor `starting_after`.
pub fn list(
    tx: &Tx<'_>,
    account_id: &str,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<Vec<SecretRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM secrets
         WHERE account_id = ?1
           AND (?2 IS NULL OR (created_at, id) < (SELECT created_at, id FROM secrets WHERE account_id = ?1 AND id = ?2))
         ORDER BY created_at DESC, id DESC
         LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![account_id, starting_after, limit], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A deployment of the account referencing secret `id`, and the env name it uses.
pub fn referenced_by(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Option<(String, String)>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row(
            "SELECT d.id, j.key FROM deployments d, json_each(d.spec, '$.secrets') j
             WHERE d.account_id = ?1 AND j.value = ?2 LIMIT 1",
            params![account_id, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Replaces where a secret may be sent; false when there is no such secret.
pub fn set_allowed_hosts(
    tx: &Tx<'_>,
    account_id: &str,
    id: &str,
    hosts: &Option<Vec<String>>,
) -> Result<bool, StoreError> {
    let n = tx.sql().execute(
        "UPDATE secrets SET allowed_hosts = ?3 WHERE account_id = ?1 AND id = ?2",
        params![account_id, id, hosts_json(hosts)],
    )?;
    Ok(n == 1)
}

/// Deletes a secret; false when there was none.
pub fn delete(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute("DELETE FROM secrets WHERE account_id = ?1 AND id = ?2", params![account_id, id])? == 1)
}

/// Any one stored secret `(account_id, id, ciphertext)`: enough to check at start-up
/// that the master key still opens what is stored.
pub fn sample(tx: &Tx<'_>) -> Result<Option<(String, String, Vec<u8>)>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row("SELECT account_id, id, ciphertext FROM secrets LIMIT 1", [], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?))
        })
        .optional()?)
}
