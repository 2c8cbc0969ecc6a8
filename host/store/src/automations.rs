//! The `automations` aggregate: schedules, and the record of every slot they fired
//! (or skipped). `next_run_at` is unix milliseconds so the due query is one index range.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;

/// A stored automation, with the status of its latest run joined in.
#[derive(Clone, Debug)]
pub struct AutomationRow {
    /// `auto_…`
    pub id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Name.
    pub name: String,
    /// The schedule as written.
    pub schedule: String,
    /// IANA zone cron schedules run in (`None` = UTC).
    pub timezone: Option<String>,
    /// The user message each run starts with.
    pub instructions: String,
    /// Thread its runs go to.
    pub thread_id: String,
    /// Whether `thread_id` was created for this automation.
    pub dedicated_thread: bool,
    /// Whether the scheduler fires it.
    pub enabled: bool,
    /// Unix ms of the next slot (`None` when disabled or never again).
    pub next_run_at: Option<i64>,
    /// Unix ms intervals count from.
    pub anchor_ms: i64,
    /// RFC 3339 time of the last fire (or skip).
    pub last_run_at: Option<String>,
    /// `queued`/`running`/… of the last run, or `skipped`.
    pub last_run_status: Option<String>,
    /// The last run.
    pub last_run_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

const COLUMNS: &str = "a.id, a.deployment_id, a.name, a.schedule, a.timezone, a.instructions, a.thread_id,
    a.dedicated_thread, a.enabled, a.next_run_at, a.anchor_ms, a.last_run_at,
    CASE WHEN a.last_outcome = 'skipped' THEN 'skipped' ELSE r.status END, a.last_run_id, a.created_at, a.updated_at";

const FROM: &str = "automations a LEFT JOIN runs r ON r.id = a.last_run_id";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AutomationRow> {
    Ok(AutomationRow {
        id: r.get(0)?,
        deployment_id: r.get(1)?,
        name: r.get(2)?,
        schedule: r.get(3)?,
        timezone: r.get(4)?,
        instructions: r.get(5)?,
        thread_id: r.get(6)?,
        dedicated_thread: r.get(7)?,
        enabled: r.get(8)?,
        next_run_at: r.get(9)?,
        anchor_ms: r.get(10)?,
        last_run_at: r.get(11)?,
        last_run_status: r.get(12)?,
        last_run_id: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

/// Inserts a new automation.
pub fn insert(tx: &Tx<'_>, a: &AutomationRow, created_by_run: Option<&str>) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO automations (id, deployment_id, name, schedule, timezone, instructions, thread_id,
             dedicated_thread, enabled, next_run_at, anchor_ms, created_by_run, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        params![
            a.id,
            a.deployment_id,
            a.name,
            a.schedule,
            a.timezone,
            a.instructions,
            a.thread_id,
            a.dedicated_thread,
            a.enabled,
            a.next_run_at,
            a.anchor_ms,
            created_by_run,
            a.created_at
        ],
    )?;
    Ok(())
}

/// Loads one automation of a deployment.
pub fn get(tx: &Tx<'_>, deployment_id: &str, id: &str) -> Result<Option<AutomationRow>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = ?1 AND a.deployment_id = ?2"))?
        .query_row(params![id, deployment_id], from_row)
        .optional()?)
}

/// How many automations a deployment has.
pub fn count(tx: &Tx<'_>, deployment_id: &str) -> Result<u64, StoreError> {
    let conn = tx.sql();
    Ok(conn.query_row("SELECT COUNT(*) FROM automations WHERE deployment_id = ?1", params![deployment_id], |r| {
        r.get::<_, i64>(0)
    })? as u64)
}

/// One page of a deployment's automations, newest first, after the automation `cursor`.
pub fn list(
    tx: &Tx<'_>,
    deployment_id: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<AutomationRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE a.deployment_id = ?1
           AND (?2 IS NULL OR (a.created_at, a.rowid) <
                (SELECT created_at, rowid FROM automations WHERE id = ?2 AND deployment_id = ?1))
         ORDER BY a.created_at DESC, a.rowid DESC
         LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![deployment_id, cursor, limit], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Whether `id` is an automation of the deployment (cursor validation).
pub fn exists(tx: &Tx<'_>, deployment_id: &str, id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row("SELECT 1 FROM automations WHERE id = ?1 AND deployment_id = ?2", params![id, deployment_id], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

/// Replaces the editable fields (and the schedule's next slot and anchor).
pub fn update(tx: &Tx<'_>, a: &AutomationRow, now: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "UPDATE automations SET name = ?3, schedule = ?4, timezone = ?5, instructions = ?6, thread_id = ?7,
             dedicated_thread = ?8, enabled = ?9, next_run_at = ?10, anchor_ms = ?11, updated_at = ?12
         WHERE id = ?1 AND deployment_id = ?2",
        params![
            a.id,
            a.deployment_id,
            a.name,
            a.schedule,
            a.timezone,
            a.instructions,
            a.thread_id,
            a.dedicated_thread,
            a.enabled,
            a.next_run_at,
            a.anchor_ms,
            now
        ],
    )?;
    Ok(n == 1)
}

/// Deletes an automation (its fire records go with it); false when it did not exist.
pub fn delete(tx: &Tx<'_>, deployment_id: &str, id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute("DELETE FROM automations WHERE id = ?1 AND deployment_id = ?2", params![id, deployment_id])? == 1)
}

/// An automation whose slot is due.
#[derive(Clone, Debug)]
pub struct Due {
    /// `auto_…`
    pub id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// The schedule as written.
    pub schedule: String,
    /// Its zone.
    pub timezone: Option<String>,
    /// The due slot (unix ms): the claim matches on it.
    pub slot: i64,
    /// Where intervals count from.
    pub anchor_ms: i64,
}

/// Enabled automations whose next slot is at or before `now_ms`, oldest slot first.
pub fn due(tx: &Tx<'_>, now_ms: i64, limit: u32) -> Result<Vec<Due>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT id, deployment_id, schedule, timezone, next_run_at, anchor_ms FROM automations
         WHERE next_run_at IS NOT NULL AND next_run_at <= ?1 AND enabled = 1
         ORDER BY next_run_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, limit], |r| {
        Ok(Due {
            id: r.get(0)?,
            deployment_id: r.get(1)?,
            schedule: r.get(2)?,
            timezone: r.get(3)?,
            slot: r.get(4)?,
            anchor_ms: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Claims `slot`: moves `next_run_at` from `slot` to `next` only if it still is
/// `slot` — the one atomic step that lets exactly one tick (of one process) fire it —
/// and records the slot under `UNIQUE (automation_id, slot)` as a second guard.
/// Returns the slot's record id, or `None` when someone else claimed it (or the
/// automation changed meanwhile).
pub fn claim(tx: &Tx<'_>, id: &str, slot: i64, next: Option<i64>, now: &str) -> Result<Option<i64>, StoreError> {
    let conn = tx.sql();
    let moved = conn
        .prepare_cached("UPDATE automations SET next_run_at = ?3 WHERE id = ?1 AND next_run_at = ?2 AND enabled = 1")?
        .execute(params![id, slot, next])?;
    if moved == 0 {
        return Ok(None);
    }
    let recorded = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO automation_runs (automation_id, slot, trigger, status, created_at)
             VALUES (?1, ?2, 'schedule', 'claimed', ?3)",
        )?
        .execute(params![id, slot, now])?;
    Ok((recorded == 1).then(|| conn.last_insert_rowid()))
}

/// Records a manual ("run now") fire; returns its record id.
pub fn record_manual(tx: &Tx<'_>, id: &str, now: &str) -> Result<i64, StoreError> {
    let conn = tx.sql();
    conn.prepare_cached(
        "INSERT INTO automation_runs (automation_id, slot, trigger, status, created_at)
         VALUES (?1, NULL, 'manual', 'claimed', ?2)",
    )?
    .execute(params![id, now])?;
    Ok(conn.last_insert_rowid())
}

/// What a fire became: a run, or a skip and why; `now` (the scheduler clock's
/// time) becomes the automation's `last_run_at`.
pub fn settle(
    tx: &Tx<'_>,
    automation_id: &str,
    record: i64,
    run_id: Option<&str>,
    skip_reason: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    let conn = tx.sql();
    let outcome = if run_id.is_some() { "started" } else { "skipped" };
    conn.prepare_cached("UPDATE automation_runs SET run_id = ?2, status = ?3, reason = ?4 WHERE seq = ?1")?
        .execute(params![record, run_id, outcome, skip_reason])?;
    conn.prepare_cached("UPDATE automations SET last_run_at = ?2, last_run_id = ?3, last_outcome = ?4 WHERE id = ?1")?
        .execute(params![automation_id, now, run_id, outcome])?;
    Ok(())
}

/// What a fire needs to know about its deployment, in one indexed read.
#[derive(Clone, Debug)]
pub struct DeploymentFacts {
    /// `provisioning`, `ready`, `error`.
    pub status: String,
    /// Whether `features.automations` is on (read from the stored spec without
    /// deserializing it all).
    pub feature_on: bool,
    /// The account's balance (`None` when the account has no row: no credit check).
    pub credits: Option<i64>,
}

/// The deployment's status, feature flag and its account's balance.
pub fn deployment_facts(tx: &Tx<'_>, deployment_id: &str) -> Result<Option<DeploymentFacts>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached(
            "SELECT d.status, COALESCE(json_extract(d.spec, '$.features.automations'), 1), a.credits
             FROM deployments d LEFT JOIN accounts a ON a.id = d.account_id WHERE d.id = ?1",
        )?
        .query_row(params![deployment_id], |r| {
            Ok(DeploymentFacts { status: r.get(0)?, feature_on: r.get::<_, i64>(1)? != 0, credits: r.get(2)? })
        })
        .optional()?)
}

/// One fire of an automation, as `GET …/automations/{aid}` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FireRow {
    /// The run it started (none when skipped).
    pub run_id: Option<String>,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// The slot it fired for (unix ms; none for manual fires).
    #[serde(skip)]
    pub slot: Option<i64>,
    /// The run's status, or `skipped`.
    pub status: String,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// The latest `limit` fires of an automation, newest first.
pub fn recent_fires(tx: &Tx<'_>, automation_id: &str, limit: u32) -> Result<Vec<FireRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT f.run_id, f.trigger, f.slot, CASE WHEN f.status = 'started' THEN COALESCE(r.status, 'deleted')
                ELSE f.status END, f.reason, f.created_at
         FROM automation_runs f LEFT JOIN runs r ON r.id = f.run_id
         WHERE f.automation_id = ?1 ORDER BY f.seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![automation_id, limit], |r| {
        Ok(FireRow {
            run_id: r.get(0)?,
            trigger: r.get(1)?,
            slot: r.get(2)?,
            status: r.get(3)?,
            reason: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Whether `run_id` was started by an automation.
pub fn is_automation_run(tx: &Tx<'_>, run_id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached("SELECT 1 FROM automation_runs WHERE run_id = ?1")?
        .query_row(params![run_id], |_| Ok(()))
        .optional()?
        .is_some())
}
