//! The `approvals` aggregate: one row per gated tool call (or `ask_human` question)
//! of a run, unique per `(run_id, call_id)` so a fresh instance asking again for the
//! same call finds the same approval instead of opening a second one.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::Tx;

/// Where an approval stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a human.
    Pending,
    /// A human approved: the call runs (once).
    Approved,
    /// A human rejected: the model gets the rejection (and comment) as the result.
    Rejected,
    /// A message to the thread answered the run instead: the call is not executed.
    Superseded,
    /// Nobody decided within the policy's timeout: treated as a rejection.
    Expired,
    /// The run was cancelled (or otherwise ended) while the approval was pending.
    Cancelled,
}

impl ApprovalStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Superseded => "superseded",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        Some(match s {
            "pending" => ApprovalStatus::Pending,
            "approved" => ApprovalStatus::Approved,
            "rejected" => ApprovalStatus::Rejected,
            "superseded" => ApprovalStatus::Superseded,
            "expired" => ApprovalStatus::Expired,
            "cancelled" => ApprovalStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A stored approval.
#[derive(Clone, Debug)]
pub struct ApprovalRow {
    /// `apr_…`
    pub id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Thread of the run.
    pub thread_id: String,
    /// The waiting run.
    pub run_id: String,
    /// The tool call it gates.
    pub call_id: String,
    /// Tool name (`ask_human` when the agent asked itself).
    pub tool: String,
    /// JSON arguments of the call (secrets scrubbed).
    pub arguments: String,
    /// One line a human can decide on.
    pub summary: String,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// The human's comment (or why it was closed without a decision).
    pub comment: Option<String>,
    /// Unix ms after which a pending approval is rejected by the sweeper.
    pub expires_at: Option<i64>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once decided or closed.
    pub decided_at: Option<String>,
}

const COLUMNS: &str = "id, deployment_id, thread_id, run_id, call_id, tool, arguments, summary, status, comment, expires_at, created_at, decided_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ApprovalRow, StoreError>> {
    let status: String = r.get(8)?;
    let Some(status) = ApprovalStatus::parse(&status) else {
        return Ok(Err(StoreError::Corrupt(format!("approval status {status:?}"))));
    };
    Ok(Ok(ApprovalRow {
        id: r.get(0)?,
        deployment_id: r.get(1)?,
        thread_id: r.get(2)?,
        run_id: r.get(3)?,
        call_id: r.get(4)?,
        tool: r.get(5)?,
        arguments: r.get(6)?,
        summary: r.get(7)?,
        status,
        comment: r.get(9)?,
        expires_at: r.get(10)?,
        created_at: r.get(11)?,
        decided_at: r.get(12)?,
    }))
}

/// Inserts a pending approval.
pub fn insert(tx: &Tx<'_>, a: &ApprovalRow) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        &format!("INSERT INTO approvals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        params![
            a.id,
            a.deployment_id,
            a.thread_id,
            a.run_id,
            a.call_id,
            a.tool,
            a.arguments,
            a.summary,
            a.status.as_str(),
            a.comment,
            a.expires_at,
            a.created_at,
            a.decided_at
        ],
    )?;
    Ok(())
}

/// One approval of a deployment.
pub fn get(tx: &Tx<'_>, deployment_id: &str, id: &str) -> Result<Option<ApprovalRow>, StoreError> {
    let conn = tx.sql();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1 AND deployment_id = ?2"),
        params![id, deployment_id],
        from_row,
    )
    .optional()?
    .transpose()
}

/// The approval of a run's tool call, if one was opened.
pub fn by_call(tx: &Tx<'_>, run_id: &str, call_id: &str) -> Result<Option<ApprovalRow>, StoreError> {
    let conn = tx.sql();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM approvals WHERE run_id = ?1 AND call_id = ?2"),
        params![run_id, call_id],
        from_row,
    )
    .optional()?
    .transpose()
}

/// A page of a deployment's approvals, oldest first (a work queue), optionally only
/// those with `status`; `cursor` is the last id of the previous page.
pub fn list(
    tx: &Tx<'_>,
    deployment_id: &str,
    status: Option<ApprovalStatus>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<ApprovalRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM approvals
         WHERE deployment_id = ?1
           AND (?2 IS NULL OR status = ?2)
           AND (?3 IS NULL OR seq > (SELECT seq FROM approvals WHERE id = ?3 AND deployment_id = ?1))
         ORDER BY seq LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![deployment_id, status.map(ApprovalStatus::as_str), cursor, limit], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

/// Closes a pending approval with `status` and `comment`; false when it was no longer
/// pending (someone decided first).
pub fn close(
    tx: &Tx<'_>,
    id: &str,
    status: ApprovalStatus,
    comment: Option<&str>,
    now: &str,
) -> Result<bool, StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "UPDATE approvals SET status = ?2, comment = ?3, decided_at = ?4 WHERE id = ?1 AND status = 'pending'",
        params![id, status.as_str(), comment, now],
    )?;
    Ok(n == 1)
}

/// Closes every pending approval of a run with `status` and `comment`; how many.
pub fn close_for_run(
    tx: &Tx<'_>,
    run_id: &str,
    status: ApprovalStatus,
    comment: Option<&str>,
    now: &str,
) -> Result<usize, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute(
        "UPDATE approvals SET status = ?2, comment = ?3, decided_at = ?4 WHERE run_id = ?1 AND status = 'pending'",
        params![run_id, status.as_str(), comment, now],
    )?)
}

/// Whether the run has an approval still pending under `id`.
pub fn is_pending(tx: &Tx<'_>, run_id: &str, id: &str) -> Result<Option<bool>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row("SELECT status FROM approvals WHERE id = ?1 AND run_id = ?2", params![id, run_id], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .map(|s| s == "pending"))
}

/// Pending approvals whose timeout passed at `now_ms`: `(id, run_id)`, at most `limit`.
pub fn expired(tx: &Tx<'_>, now_ms: i64, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT id, run_id FROM approvals
         WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ?1
         ORDER BY expires_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
