//! The `retained_workspaces` aggregate: the workspaces a deployment's deletion kept
//! (`?retain_filesystem=true`), each until its `expires_at`. The files themselves are a
//! folder the core keeps beside the database; a row says whose it is and how long.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;

/// A kept workspace.
#[derive(Clone, Debug, PartialEq)]
pub struct RetainedRow {
    /// The deleted deployment's id (`dep_…`).
    pub deployment_id: String,
    /// Owning account.
    pub account_id: String,
    /// The deployment's `customer_id`.
    pub customer_id: String,
    /// The deployment's `name`.
    pub name: String,
    /// Size of the kept files when the deployment was deleted.
    pub bytes: u64,
    /// RFC 3339: when the deployment was deleted.
    pub deleted_at: String,
    /// RFC 3339: when the kept files are removed.
    pub expires_at: String,
}

const COLUMNS: &str = "deployment_id, account_id, customer_id, name, bytes, deleted_at, expires_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RetainedRow> {
    Ok(RetainedRow {
        deployment_id: r.get(0)?,
        account_id: r.get(1)?,
        customer_id: r.get(2)?,
        name: r.get(3)?,
        bytes: r.get::<_, i64>(4)? as u64,
        deleted_at: r.get(5)?,
        expires_at: r.get(6)?,
    })
}

/// Records a kept workspace.
pub fn insert(tx: &Tx<'_>, row: &RetainedRow) -> Result<(), StoreError> {
    tx.sql().execute(
        &format!("INSERT INTO retained_workspaces ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            row.deployment_id,
            row.account_id,
            row.customer_id,
            row.name,
            row.bytes as i64,
            row.deleted_at,
            row.expires_at
        ],
    )?;
    Ok(())
}

/// One kept workspace of an account, unless it expired before `now`.
pub fn get(tx: &Tx<'_>, account_id: &str, deployment_id: &str, now: &str) -> Result<Option<RetainedRow>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM retained_workspaces WHERE account_id = ?1 AND deployment_id = ?2 AND expires_at > ?3"
        ))?
        .query_row(params![account_id, deployment_id, now], from_row)
        .optional()?)
}

/// One page of an account's unexpired kept workspaces, newest deletion first, after
/// the cursor `starting_after` (a deployment id).
pub fn list(
    tx: &Tx<'_>,
    account_id: &str,
    now: &str,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<Vec<RetainedRow>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(&format!(
        "SELECT {COLUMNS} FROM retained_workspaces
         WHERE account_id = ?1 AND expires_at > ?2
           AND (?3 IS NULL OR (deleted_at, deployment_id) <
                (SELECT deleted_at, deployment_id FROM retained_workspaces WHERE account_id = ?1 AND deployment_id = ?3))
         ORDER BY deleted_at DESC, deployment_id DESC
         LIMIT ?4"
    ))?;
    let rows =
        stmt.query_map(params![account_id, now, starting_after, limit], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Whether `deployment_id` names a kept workspace of the account (expired or not).
pub fn exists(tx: &Tx<'_>, account_id: &str, deployment_id: &str) -> Result<bool, StoreError> {
    Ok(tx.sql().query_row(
        "SELECT EXISTS (SELECT 1 FROM retained_workspaces WHERE account_id = ?1 AND deployment_id = ?2)",
        params![account_id, deployment_id],
        |r| r.get(0),
    )?)
}

/// The ids of the kept workspaces that expired at or before `now` (at most `limit`).
pub fn expired(tx: &Tx<'_>, now: &str, limit: u32) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(
        "SELECT deployment_id FROM retained_workspaces WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every kept workspace's id (the startup check that each has its folder).
pub fn all_ids(tx: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.sql().prepare_cached("SELECT deployment_id FROM retained_workspaces")?;
    let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Forgets a kept workspace; false when there was none.
pub fn delete(tx: &Tx<'_>, deployment_id: &str) -> Result<bool, StoreError> {
    Ok(tx.sql().execute("DELETE FROM retained_workspaces WHERE deployment_id = ?1", params![deployment_id])? == 1)
}
