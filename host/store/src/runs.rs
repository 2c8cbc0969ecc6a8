//! The `runs` and `tool_calls` aggregates.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::Tx;
pub use hermes_types::status::RunStatus;

/// A stored run.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// `run_…`
    pub id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Thread it runs on.
    pub thread_id: String,
    /// Current status.
    pub status: RunStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The agent's final answer, when completed.
    pub output: Option<String>,
    /// Microseconds to create the last instance (fresh store + instantiation).
    pub instantiate_us: Option<u64>,
    /// Prompt tokens charged so far.
    pub input_tokens: u64,
    /// Completion tokens charged so far.
    pub output_tokens: u64,
    /// RFC 3339 times.
    pub created_at: String,
    /// When a worker first picked it up.
    pub started_at: Option<String>,
    /// When it reached a terminal status.
    pub finished_at: Option<String>,
    /// The run that delegated this one (a subagent's parent).
    pub parent_run_id: Option<String>,
    /// A subagent's only tools (`None`: every tool of the deployment).
    pub child_tools: Option<Vec<String>>,
    /// A subagent's bound on model turns.
    pub max_turns: Option<u32>,
}

/// What makes a run a subagent: its parent, the call that delegated it, its bounds.
#[derive(Clone, Debug)]
pub struct ChildOf {
    /// The delegating run.
    pub parent_run_id: String,
    /// The parent's tool call (one child per call).
    pub call_id: String,
    /// The only tools the child may use.
    pub tools: Option<Vec<String>>,
    /// Upper bound on the child's model turns.
    pub max_turns: Option<u32>,
}

/// Inserts a queued run, owned by the host process `owner`; `child` makes it a
/// subagent of `child.parent_run_id`.
pub fn insert(
    tx: &Tx<'_>,
    id: &str,
    deployment_id: &str,
    thread_id: &str,
    owner: &str,
    now: &str,
    child: Option<&ChildOf>,
) -> Result<(), StoreError> {
    let tools = child.and_then(|c| c.tools.as_ref()).map(|t| serde_json::Value::from(t.clone()).to_string());
    tx.sql()
        .prepare_cached(
            "INSERT INTO runs (id, deployment_id, thread_id, status, created_at, owner,
                               parent_run_id, parent_call_id, child_tools, max_turns)
             VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            id,
            deployment_id,
            thread_id,
            now,
            owner,
            child.map(|c| &c.parent_run_id),
            child.map(|c| &c.call_id),
            tools,
            child.and_then(|c| c.max_turns)
        ])?;
    Ok(())
}

/// Records the W3C `traceparent` the run was started under (its spans' parent).
pub fn set_traceparent(tx: &Tx<'_>, id: &str, traceparent: &str) -> Result<(), StoreError> {
    tx.sql().prepare_cached("UPDATE runs SET traceparent = ?2 WHERE id = ?1")?.execute(params![id, traceparent])?;
    Ok(())
}

/// The W3C `traceparent` the run was started under, if it was traced.
pub fn traceparent(tx: &Tx<'_>, id: &str) -> Result<Option<String>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached("SELECT traceparent FROM runs WHERE id = ?1")?
        .query_row(params![id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// The child a parent's tool call started, if any.
pub fn child_by_call(tx: &Tx<'_>, parent_run_id: &str, call_id: &str) -> Result<Option<RunRow>, StoreError> {
    let id: Option<String> = tx
        .sql()
        .prepare_cached("SELECT id FROM runs WHERE parent_run_id = ?1 AND parent_call_id = ?2")?
        .query_row(params![parent_run_id, call_id], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => get(tx, &id),
        None => Ok(None),
    }
}

/// Children a run has started, `(id, status)`, oldest first.
pub fn children(tx: &Tx<'_>, parent_run_id: &str) -> Result<Vec<(String, RunStatus)>, StoreError> {
    let mut stmt =
        tx.sql().prepare_cached("SELECT id, status FROM runs WHERE parent_run_id = ?1 ORDER BY created_at, rowid")?;
    let rows = stmt
        .query_map(params![parent_run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(id, s)| Ok((id, RunStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("run status {s:?}")))?)))
        .collect()
}

/// How many ancestors a run has (0 for a run a message started), counted up to `cap`.
pub fn depth(tx: &Tx<'_>, id: &str, cap: u32) -> Result<u32, StoreError> {
    let mut stmt = tx.sql().prepare_cached("SELECT parent_run_id FROM runs WHERE id = ?1")?;
    let (mut depth, mut at) = (0, id.to_string());
    while depth < cap {
        let parent: Option<Option<String>> = stmt.query_row(params![at], |r| r.get(0)).optional()?;
        match parent.flatten() {
            Some(p) => {
                depth += 1;
                at = p;
            }
            None => break,
        }
    }
    Ok(depth)
}

/// Moves a run from `waiting_on_subagents` back to `queued` (its children ended);
/// false when it was not waiting on them, so exactly one caller spawns it.
pub fn requeue_after_children(tx: &Tx<'_>, id: &str, owner: &str) -> Result<bool, StoreError> {
    let n = tx.sql().execute(
        "UPDATE runs SET status = 'queued', owner = ?2 WHERE id = ?1 AND status = 'waiting_on_subagents'",
        params![id, owner],
    )?;
    Ok(n == 1)
}

/// Moves a run to `status`, stamping start/finish times.
pub fn set_status(tx: &Tx<'_>, id: &str, status: RunStatus, error: Option<&str>, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "UPDATE runs SET status = ?2, error = ?3,
             started_at = CASE WHEN ?2 = 'running' AND started_at IS NULL THEN ?4 ELSE started_at END,
             finished_at = CASE WHEN ?2 IN ('completed', 'error', 'cancelled') THEN ?4 ELSE finished_at END
         WHERE id = ?1",
        params![id, status.as_str(), error, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("run {id}")));
    }
    Ok(())
}

/// Claims a queued run for the executor about to run it (`queued` → `running`);
/// false when it is not queued (another executor has it, or it ended): exactly one
/// executor runs a run.
pub fn claim(tx: &Tx<'_>, id: &str, now: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?2)
         WHERE id = ?1 AND status = 'queued'",
        params![id, now],
    )?;
    Ok(n == 1)
}

/// Cancels a run that no executor has claimed yet (`queued` → `cancelled`); false
/// when it is not queued (an executor has it, or it ended).
pub fn cancel_queued(tx: &Tx<'_>, id: &str, now: &str) -> Result<bool, StoreError> {
    let n = tx.sql().execute(
        "UPDATE runs SET status = 'cancelled', finished_at = ?2 WHERE id = ?1 AND status = 'queued'",
        params![id, now],
    )?;
    Ok(n == 1)
}

/// Moves a run from `waiting_on_human` back to `queued` (a human answered); false
/// when it was not waiting, so exactly one caller spawns its next instance.
pub fn requeue_waiting(tx: &Tx<'_>, id: &str, owner: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    // The process that re-queues it executes it: it becomes the owner.
    let n = conn.execute(
        "UPDATE runs SET status = 'queued', owner = ?2 WHERE id = ?1 AND status = 'waiting_on_human'",
        params![id, owner],
    )?;
    Ok(n == 1)
}

/// Records a run's final answer.
pub fn set_output(tx: &Tx<'_>, id: &str, output: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute("UPDATE runs SET output = ?2 WHERE id = ?1", params![id, output])?;
    Ok(())
}

/// Records how long the latest instance took to create.
pub fn set_instantiate_us(tx: &Tx<'_>, id: &str, micros: u64) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute("UPDATE runs SET instantiate_us = ?2 WHERE id = ?1", params![id, micros as i64])?;
    Ok(())
}

/// Adds token usage to a run and to every run above it: a run's figures include its
/// subagents'. (The usage ledger keeps one row per model call, so nothing is
/// charged twice.)
pub fn add_usage(tx: &Tx<'_>, id: &str, input: u64, output: u64) -> Result<(), StoreError> {
    tx.sql()
        .prepare_cached(
            "WITH RECURSIVE up(id, depth) AS (
             SELECT ?1, 0
             UNION ALL
             SELECT r.parent_run_id, up.depth + 1 FROM runs r JOIN up ON r.id = up.id
             WHERE r.parent_run_id IS NOT NULL AND up.depth < 16
         )
         UPDATE runs SET input_tokens = input_tokens + ?2, output_tokens = output_tokens + ?3
         WHERE id IN (SELECT id FROM up)",
        )?
        .execute(params![id, input as i64, output as i64])?;
    Ok(())
}

/// Loads one run.
pub fn get(tx: &Tx<'_>, id: &str) -> Result<Option<RunRow>, StoreError> {
    let conn = tx.sql();
    conn.query_row(
        "SELECT id, deployment_id, thread_id, status, error, input_tokens, output_tokens, created_at, started_at,
                finished_at, output, instantiate_us, parent_run_id, child_tools, max_turns
         FROM runs WHERE id = ?1",
        params![id],
        |r| {
            Ok((
                RunRow {
                    id: r.get(0)?,
                    deployment_id: r.get(1)?,
                    thread_id: r.get(2)?,
                    status: RunStatus::Queued,
                    error: r.get(4)?,
                    input_tokens: r.get::<_, i64>(5)? as u64,
                    output_tokens: r.get::<_, i64>(6)? as u64,
                    created_at: r.get(7)?,
                    started_at: r.get(8)?,
                    finished_at: r.get(9)?,
                    output: r.get(10)?,
                    instantiate_us: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
                    parent_run_id: r.get(12)?,
                    child_tools: None,
                    max_turns: r.get::<_, Option<i64>>(14)?.and_then(|v| u32::try_from(v).ok()),
                },
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(13)?,
            ))
        },
    )
    .optional()?
    .map(|(mut row, status, tools)| {
        row.status = RunStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?;
        row.child_tools = tools
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("run child_tools: {e}"))))
            .transpose()?;
        Ok(row)
    })
    .transpose()
}

/// Runs queued or running, with the process that owns each (none for runs from
/// before owners were recorded).
pub fn unfinished(tx: &Tx<'_>) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let conn = tx.sql();
    let mut stmt =
        conn.prepare("SELECT id, owner FROM runs WHERE status IN ('queued', 'running') ORDER BY created_at, rowid")?;
    let ids = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Makes `owner` take over an unfinished run from its (gone) `previous` owner, queued
/// again (nobody executes it now; the new owner's executor claims it); false when
/// another process took it first or it finished meanwhile.
pub fn take_over(tx: &Tx<'_>, id: &str, previous: Option<&str>, owner: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "UPDATE runs SET owner = ?2, status = 'queued'
         WHERE id = ?1 AND owner IS ?3 AND status IN ('queued', 'running')",
        params![id, owner, previous],
    )?;
    Ok(n == 1)
}

/// Records that a tool call is about to execute (idempotent).
pub fn tool_started(tx: &Tx<'_>, run_id: &str, call_id: &str, tool: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT OR IGNORE INTO tool_calls (run_id, call_id, tool, status, started_at) VALUES (?1, ?2, ?3, 'started', ?4)",
        params![run_id, call_id, tool, now],
    )?;
    Ok(())
}

/// Every tool call id this run has used: started calls and calls awaiting approval.
pub fn call_ids(tx: &Tx<'_>, run_id: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(
        "SELECT call_id FROM tool_calls WHERE run_id = ?1 UNION SELECT call_id FROM approvals WHERE run_id = ?1",
    )?;
    let ids = stmt.query_map(params![run_id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Records that a tool call has its result.
pub fn tool_finished(tx: &Tx<'_>, run_id: &str, call_id: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "UPDATE tool_calls SET status = 'finished', finished_at = ?3 WHERE run_id = ?1 AND call_id = ?2",
        params![run_id, call_id, now],
    )?;
    Ok(())
}

/// Calls of a run that started but never finished.
pub fn interrupted_calls(tx: &Tx<'_>, run_id: &str) -> Result<Vec<String>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT call_id FROM tool_calls WHERE run_id = ?1 AND status = 'started' ORDER BY started_at",
    )?;
    let ids = stmt.query_map(params![run_id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// The run currently holding the thread (queued, running or waiting), if any.
pub fn active_on_thread(tx: &Tx<'_>, thread_id: &str) -> Result<Option<(String, RunStatus)>, StoreError> {
    let conn = tx.sql();
    conn.prepare_cached(
        "SELECT id, status FROM runs WHERE thread_id = ?1 AND status IN ('queued', 'running', 'waiting_on_human', 'waiting_on_subagents')
         ORDER BY created_at LIMIT 1",
    )?
    .query_row(params![thread_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
    .optional()?
    .map(|(id, s)| Ok((id, RunStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("run status {s:?}")))?)))
    .transpose()
}

/// Runs of the account's deployments waiting for an instance slot.
pub fn queued_for_account(tx: &Tx<'_>, account_id: &str) -> Result<u64, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(
            "SELECT count(*) FROM runs r JOIN deployments d ON d.id = r.deployment_id
             WHERE r.status = 'queued' AND d.account_id = ?1",
        )?
        .query_row(params![account_id], |r| r.get::<_, i64>(0))? as u64)
}

/// Runs of a deployment that are not finished.
pub fn active_of_deployment(tx: &Tx<'_>, deployment_id: &str) -> Result<Vec<String>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare(
        "SELECT id FROM runs WHERE deployment_id = ?1 AND status IN ('queued', 'running', 'waiting_on_human', 'waiting_on_subagents')",
    )?;
    let ids = stmt.query_map(params![deployment_id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Runs by stored status, `(status, count)` sorted by status (for the metrics page).
pub fn count_by_status(tx: &Tx<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = tx.sql().prepare("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
