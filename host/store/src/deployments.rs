//! The `deployments` aggregate.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;
pub use hermes_types::paging::DeploymentFilter as ListFilter;
use hermes_types::spec::{DeploymentSpec, SkillSpec};
pub use hermes_types::status::DeploymentStatus;

/// A stored deployment.
#[derive(Clone, Debug)]
pub struct DeploymentRow {
    /// `dep_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// The configuration it was created (or last patched) with. In a [`list`], inline
    /// skills come without their bodies (`content` is empty): load one with [`get`].
    pub spec: DeploymentSpec,
    /// Current status.
    pub status: DeploymentStatus,
    /// Why setup failed, when `status` is `error`.
    pub error: Option<String>,
    /// The thread messages go to when none is named.
    pub default_thread_id: String,
    /// RFC 3339.
    pub created_at: String,
}

/// The spec as stored: inline skill bodies taken out (JSON `{name: content}`, or
/// NULL when there are none) so the spec column stays small.
fn split(spec: &DeploymentSpec) -> Result<(String, Option<String>), StoreError> {
    let mut lean = spec.clone();
    let mut bodies = serde_json::Map::new();
    for skill in &mut lean.skills {
        if let SkillSpec::Inline { name, content } = skill {
            bodies.insert(name.clone(), serde_json::Value::String(std::mem::take(content)));
        }
    }
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let bodies = if bodies.is_empty() { None } else { Some(serde_json::to_string(&bodies).map_err(corrupt)?) };
    Ok((serde_json::to_string(&lean).map_err(corrupt)?, bodies))
}

/// Puts stored inline skill bodies back into a spec (rows from before the split
/// still carry them inside the spec, and have no bodies column).
fn join(spec: &mut DeploymentSpec, bodies: Option<&str>) -> Result<(), StoreError> {
    let Some(bodies) = bodies else { return Ok(()) };
    let mut bodies: std::collections::HashMap<String, String> =
        serde_json::from_str(bodies).map_err(|e| StoreError::Corrupt(format!("deployment skill bodies: {e}")))?;
    for skill in &mut spec.skills {
        if let SkillSpec::Inline { name, content } = skill
            && let Some(body) = bodies.remove(name.as_str())
        {
            *content = body;
        }
    }
    Ok(())
}

/// Inserts a new deployment and its default thread.
pub fn insert(tx: &Tx<'_>, row: &DeploymentRow) -> Result<(), StoreError> {
    let conn = tx.sql();
    let (spec, bodies) = split(&row.spec)?;
    conn.execute(
        "INSERT INTO deployments (id, account_id, customer_id, name, spec, skill_bodies, status, error, default_thread_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?10, ?6, ?7, ?8, ?9, ?9)",
        params![
            row.id,
            row.account_id,
            row.spec.customer_id,
            row.spec.name,
            spec,
            row.status.as_str(),
            row.error,
            row.default_thread_id,
            row.created_at,
            bodies
        ],
    )?;
    conn.execute(
        "INSERT INTO threads (id, deployment_id, title, created_at) VALUES (?1, ?2, NULL, ?3)",
        params![row.default_thread_id, row.id, row.created_at],
    )?;
    Ok(())
}

/// Sets the status (and error message) of a deployment.
pub fn set_status(
    tx: &Tx<'_>,
    id: &str,
    status: DeploymentStatus,
    error: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    let conn = tx.sql();
    let n = conn.execute(
        "UPDATE deployments SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, status.as_str(), error, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("deployment {id}")));
    }
    Ok(())
}

const COLUMNS: &str = "id, account_id, spec, status, error, default_thread_id, created_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<DeploymentRow, StoreError>> {
    let spec: String = r.get(2)?;
    let status: String = r.get(3)?;
    let id: String = r.get(0)?;
    let account_id: String = r.get(1)?;
    let error: Option<String> = r.get(4)?;
    let default_thread_id: String = r.get(5)?;
    let created_at: String = r.get(6)?;
    Ok((|| {
        Ok(DeploymentRow {
            id,
            account_id,
            spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("deployment spec: {e}")))?,
            status: DeploymentStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("deployment status {status:?}")))?,
            error,
            default_thread_id,
            created_at,
        })
    })())
}

/// Loads one deployment, inline skill bodies included.
pub fn get(tx: &Tx<'_>, id: &str) -> Result<Option<DeploymentRow>, StoreError> {
    let conn = tx.sql();
    let found = conn
        .prepare_cached(&format!("SELECT {COLUMNS}, skill_bodies FROM deployments WHERE id = ?1"))?
        .query_row(params![id], |r| Ok((from_row(r)?, r.get::<_, Option<String>>(7)?)))
        .optional()?;
    let Some((row, bodies)) = found else { return Ok(None) };
    let mut row = row?;
    join(&mut row.spec, bodies.as_deref())?;
    Ok(Some(row))
}

/// Whether a deployment exists.
pub fn exists(tx: &Tx<'_>, id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached("SELECT 1 FROM deployments WHERE id = ?1")?
        .query_row(params![id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// One page of an account's deployments, newest first, without inline skill bodies;
/// `limit + 1` rows are read so the caller knows whether more follow.
pub fn list(tx: &Tx<'_>, account_id: &str, f: &ListFilter, limit: u32) -> Result<Vec<DeploymentRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM deployments
         WHERE account_id = ?1
           AND (?2 IS NULL OR customer_id = ?2)
           AND (?3 IS NULL OR status = ?3)
           AND (?4 IS NULL OR (created_at, rowid) < (SELECT created_at, rowid FROM deployments WHERE id = ?4 AND account_id = ?1))
         ORDER BY created_at DESC, rowid DESC
         LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![account_id, f.customer_id, f.status.map(|s| s.as_str()), f.starting_after, limit],
        from_row,
    )?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// Replaces a deployment's spec.
pub fn update_spec(tx: &Tx<'_>, id: &str, spec: &DeploymentSpec, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    let (json, bodies) = split(spec)?;
    let n = conn.execute(
        "UPDATE deployments SET spec = ?2, skill_bodies = ?6, customer_id = ?3, name = ?4, updated_at = ?5 WHERE id = ?1",
        params![id, json, spec.customer_id, spec.name, now, bodies],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("deployment {id}")));
    }
    Ok(())
}

/// Deletes a deployment with its threads, messages, runs and events; disables the
/// webhook endpoints scoped to it.
pub fn delete(tx: &Tx<'_>, id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    conn.execute("DELETE FROM events WHERE deployment_id = ?1", params![id])?;
    // Endpoints scoped to it can never fire again; they stay (disabled, saying why)
    // so their pending deliveries still go out and the vendor sees what happened.
    conn.execute(
        "UPDATE webhooks SET disabled_reason = 'its deployment was deleted'
         WHERE deployment_id = ?1 AND disabled_reason IS NULL",
        params![id],
    )?;
    Ok(conn.execute("DELETE FROM deployments WHERE id = ?1", params![id])? == 1)
}

/// How many deployments exist (for the metrics page).
pub fn count(tx: &Tx<'_>) -> Result<i64, StoreError> {
    Ok(tx.sql().query_row("SELECT COUNT(*) FROM deployments", [], |r| r.get(0))?)
}
