//! The `deployments` aggregate.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::spec::DeploymentSpec;

/// Lifecycle of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Being set up (skills fetched, workspace prepared).
    Provisioning,
    /// Accepting messages.
    Ready,
    /// Setup failed; `error` says why.
    Error,
}

impl DeploymentStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Provisioning => "provisioning",
            DeploymentStatus::Ready => "ready",
            DeploymentStatus::Error => "error",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "provisioning" => DeploymentStatus::Provisioning,
            "ready" => DeploymentStatus::Ready,
            "error" => DeploymentStatus::Error,
            other => return Err(StoreError::Corrupt(format!("deployment status {other:?}"))),
        })
    }
}

/// A stored deployment.
#[derive(Clone, Debug)]
pub struct DeploymentRow {
    /// `dep_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// The configuration it was created (or last patched) with.
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

/// Inserts a new deployment and its default thread.
pub fn insert(conn: &Connection, row: &DeploymentRow) -> Result<(), StoreError> {
    let spec = serde_json::to_string(&row.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.execute(
        "INSERT INTO deployments (id, account_id, customer_id, name, spec, status, error, default_thread_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![
            row.id,
            row.account_id,
            row.spec.customer_id,
            row.spec.name,
            spec,
            row.status.as_str(),
            row.error,
            row.default_thread_id,
            row.created_at
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
    conn: &Connection,
    id: &str,
    status: DeploymentStatus,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE deployments SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, status.as_str(), error, crate::ids::now()],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("deployment {id}")));
    }
    Ok(())
}

/// Loads one deployment.
pub fn get(conn: &Connection, id: &str) -> Result<Option<DeploymentRow>, StoreError> {
    let row = conn
        .query_row(
            "SELECT id, account_id, spec, status, error, default_thread_id, created_at FROM deployments WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((id, account_id, spec, status, error, default_thread_id, created_at)) = row else {
        return Ok(None);
    };
    Ok(Some(DeploymentRow {
        id,
        account_id,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("deployment spec: {e}")))?,
        status: DeploymentStatus::parse(&status)?,
        error,
        default_thread_id,
        created_at,
    }))
}
