//! Workspaces kept after their deployment's deletion (`DELETE …?retain_filesystem=true`):
//! a row in the store says whose each is and until when, the files are a folder
//! `<data-dir>/retained/<deployment_id>`. Until `expires_at` (`[workspaces]
//! retained_days` after the deletion) they are listed and readable through the API; a
//! background pass then removes the folder and the row.
//!
//! Crash safety: the deletion commits the deployment's removal and the row together,
//! then moves the folder. A crash between the two leaves the files at their old place,
//! and the pass at start moves them, so an acknowledged deletion never loses the files
//! it promised to keep.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use hermes_store::deployments::DeploymentRow;
use hermes_store::retained::{self as store, RetainedRow};
use serde::Serialize;

use crate::files::{FolderListing, list_in, read_in};
use crate::handle::Core;
use crate::services::Services;
use crate::{HostError, workspace};

/// Most expired workspaces one pass removes (the next pass takes the rest).
const SWEEP_BATCH: u32 = 100;

/// A retained workspace as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RetainedWorkspace {
    /// The deleted deployment's id (`dep_…`).
    pub deployment_id: String,
    /// Its `customer_id`.
    pub customer_id: String,
    /// Its `name`.
    pub name: String,
    /// Bytes of files kept.
    pub bytes: u64,
    /// When the deployment was deleted, RFC 3339.
    pub deleted_at: String,
    /// When the files are removed, RFC 3339.
    pub expires_at: String,
}

impl From<RetainedRow> for RetainedWorkspace {
    fn from(r: RetainedRow) -> Self {
        RetainedWorkspace {
            deployment_id: r.deployment_id,
            customer_id: r.customer_id,
            name: r.name,
            bytes: r.bytes,
            deleted_at: r.deleted_at,
            expires_at: r.expires_at,
        }
    }
}

/// Where a deleted deployment's workspace is kept.
pub(crate) fn dir(data_dir: &Path, deployment_id: &str) -> PathBuf {
    data_dir.join("retained").join(deployment_id)
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn now(services: &Services) -> String {
    rfc3339(services.clock.now())
}

/// [`crate::files::blocking`] for plain I/O, saying `what` failed.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, HostError> {
    crate::files::blocking(move || f().map_err(HostError::io(what))).await
}

/// Moves a workspace to its retained place (an absent workspace keeps an empty folder).
fn move_aside(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(to),
        other => other,
    }
}

/// Removes a folder that may already be gone.
fn remove(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Deletes the deployment `row` and keeps its workspace: the removal and the retained
/// row commit together, then the folder moves.
pub(crate) async fn delete_keeping(
    services: &Arc<Services>,
    row: DeploymentRow,
) -> Result<RetainedWorkspace, HostError> {
    let live = workspace::path(&services.data_dir, &row.id);
    let measured = live.clone();
    let bytes = blocking("measuring the workspace", move || Ok(hermes_runtime::measure_workspace(&measured))).await?;
    let deleted = services.clock.now();
    let days = i64::from(services.config.workspaces.retained_days);
    let kept = RetainedRow {
        deployment_id: row.id.clone(),
        account_id: row.account_id.clone(),
        customer_id: row.spec.customer_id.clone(),
        name: row.spec.name.clone(),
        bytes,
        deleted_at: rfc3339(deleted),
        expires_at: rfc3339(deleted + chrono::Duration::days(days)),
    };
    let (id, record) = (row.id.clone(), kept.clone());
    services
        .db
        .write(move |tx| {
            hermes_store::deployments::delete(tx, &id)?;
            store::insert(tx, &record)
        })
        .await?;
    services.hub.forget(&row.id);
    let target = dir(&services.data_dir, &row.id);
    blocking("retaining the workspace", move || move_aside(&live, &target)).await?;
    tracing::info!(deployment_id = %row.id, bytes, expires_at = %kept.expires_at, "workspace retained");
    Ok(kept.into())
}

/// Finishes moves a crash interrupted, then removes what expired; returns how many
/// retained workspaces it removed.
pub(crate) async fn sweep(services: &Services) -> Result<usize, HostError> {
    let now = now(services);
    let expired = services.db.read(move |tx| store::expired(tx, &now, SWEEP_BATCH)).await?;
    for id in &expired {
        // Files first: a crash before the row goes leaves a row the next pass retries.
        let folder = dir(&services.data_dir, id);
        blocking("removing a retained workspace", move || remove(&folder)).await?;
        let key = id.clone();
        services.db.write(move |tx| store::delete(tx, &key)).await?;
        tracing::info!(deployment_id = %id, "retained workspace expired and removed");
    }
    Ok(expired.len())
}

/// Moves the workspaces whose deletion committed but whose folder did not move yet.
async fn finish_moves(services: &Services) -> Result<(), HostError> {
    let ids = services.db.read(store::all_ids).await?;
    let data_dir = services.data_dir.clone();
    blocking("finishing retained workspace moves", move || {
        for id in ids {
            let (live, kept) = (workspace::path(&data_dir, &id), dir(&data_dir, &id));
            if live.exists() && !kept.exists() {
                move_aside(&live, &kept)?;
            }
        }
        Ok(())
    })
    .await
}

/// Runs [`sweep`] at start and every `[workspaces] sweep_secs` until shutdown.
pub(crate) fn spawn(services: Arc<Services>) {
    let tasks = services.tasks.clone();
    tasks.spawn(async move {
        if let Err(e) = finish_moves(&services).await {
            tracing::error!(error = %e, "finishing retained workspace moves");
        }
        let every = Duration::from_secs(services.config.workspaces.sweep_secs.max(1));
        loop {
            if let Err(e) = sweep(&services).await {
                tracing::warn!(error = %e, "removing expired retained workspaces");
            }
            tokio::select! {
                _ = services.shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

impl Core {
    async fn retained_row(&self, account_id: &str, deployment_id: &str) -> Result<RetainedRow, HostError> {
        let (account, id, now) = (account_id.to_string(), deployment_id.to_string(), now(&self.services));
        self.services
            .db
            .read(move |tx| store::get(tx, &account, &id, &now))
            .await?
            .ok_or_else(|| HostError::NotFound(format!("no retained workspace of deployment {deployment_id}")))
    }

    /// One page of the account's retained workspaces, newest deletion first.
    pub async fn retained_workspaces(
        &self,
        account_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<hermes_types::paging::Page<RetainedWorkspace>, HostError> {
        HostError::check_limit(limit)?;
        let (account, now) = (account_id.to_string(), now(&self.services));
        if let Some(c) = &cursor {
            let (a, c) = (account.clone(), c.clone());
            if !self.services.db.read(move |tx| store::exists(tx, &a, &c)).await? {
                return Err(HostError::invalid("cursor", "unknown cursor"));
            }
        }
        let rows =
            self.services.db.read(move |tx| store::list(tx, &account, &now, cursor.as_deref(), limit + 1)).await?;
        Ok(hermes_types::paging::Page::cut(rows, limit, |r| r.deployment_id.clone(), RetainedWorkspace::from))
    }

    /// One retained workspace of the account (404 once it expired).
    pub async fn retained_workspace(
        &self,
        account_id: &str,
        deployment_id: &str,
    ) -> Result<RetainedWorkspace, HostError> {
        Ok(self.retained_row(account_id, deployment_id).await?.into())
    }

    /// A folder of a retained workspace, as [`Core::list_files`] lists a live one.
    pub async fn list_retained_files(
        &self,
        account_id: &str,
        deployment_id: &str,
        path: Option<&str>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<FolderListing, HostError> {
        self.retained_row(account_id, deployment_id).await?;
        list_in(dir(&self.services.data_dir, deployment_id), path, cursor, limit).await
    }

    /// The bytes of one file of a retained workspace.
    pub async fn read_retained_file(
        &self,
        account_id: &str,
        deployment_id: &str,
        path: &str,
    ) -> Result<Vec<u8>, HostError> {
        self.retained_row(account_id, deployment_id).await?;
        read_in(dir(&self.services.data_dir, deployment_id), path).await
    }

    /// Removes a retained workspace now, before it expires.
    pub async fn delete_retained_workspace(&self, account_id: &str, deployment_id: &str) -> Result<(), HostError> {
        self.retained_row(account_id, deployment_id).await?;
        let folder = dir(&self.services.data_dir, deployment_id);
        blocking("removing a retained workspace", move || remove(&folder)).await?;
        let key = deployment_id.to_string();
        self.services.db.write(move |tx| store::delete(tx, &key)).await?;
        Ok(())
    }

    /// Runs one pass removing expired retained workspaces now (the host also runs one
    /// every `[workspaces] sweep_secs`); returns how many it removed.
    pub async fn sweep_retained_workspaces(&self) -> Result<usize, HostError> {
        sweep(&self.services).await
    }
}
