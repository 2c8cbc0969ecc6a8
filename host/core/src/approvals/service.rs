//! The approvals API of [`Host`]: list, read, decide.

use crate::HostError;
use crate::handle::Core;
use hermes_store::StoreError;
use hermes_store::approvals::{self as store, ApprovalStatus};
use hermes_types::paging::Page;

use super::Approval;

/// Longest comment on a decision.
pub const MAX_COMMENT: usize = 4000;

/// A human's decision on an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run the call.
    Approve,
    /// Do not run it; the model gets the rejection (and comment).
    Reject,
}

impl Core {
    /// A page of a deployment's approvals, oldest first, optionally only those with
    /// `status` (`pending`, …); `cursor` is the last approval id of the previous page.
    pub async fn list_approvals(
        &self,
        account_id: &str,
        deployment_id: &str,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Approval>, HostError> {
        HostError::check_limit(limit)?;
        let status = match status {
            None => None,
            Some(s) => Some(ApprovalStatus::parse(s).ok_or_else(|| {
                HostError::invalid(
                    "status",
                    format!("unknown status {s:?}; one of pending, approved, rejected, superseded, expired, cancelled"),
                )
            })?),
        };
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, cur) = (deployment_id.to_string(), cursor.map(str::to_string));
        let rows = self
            .services()
            .db
            .read(move |conn| {
                if let Some(c) = &cur
                    && store::get(conn, &dep, c)?.is_none()
                {
                    return Ok(None);
                }
                store::list(conn, &dep, status, cur.as_deref(), limit + 1).map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), Approval::from_row))
    }

    /// One approval of a deployment.
    pub async fn approval(
        &self,
        account_id: &str,
        deployment_id: &str,
        approval_id: &str,
    ) -> Result<Approval, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, id) = (deployment_id.to_string(), approval_id.to_string());
        let row = self.services().db.read(move |conn| store::get(conn, &dep, &id)).await?;
        row.map(Approval::from_row).ok_or_else(|| HostError::NotFound(format!("approval {approval_id} not found")))
    }

    /// Decides a pending approval and resumes its run in a fresh instance: approve
    /// runs the call (once), reject hands the model the rejection and `comment`.
    /// Deciding an approval that is no longer pending is a conflict.
    pub async fn decide_approval(
        &self,
        account_id: &str,
        deployment_id: &str,
        approval_id: &str,
        verdict: Verdict,
        comment: Option<String>,
    ) -> Result<Approval, HostError> {
        let comment = comment.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
            return Err(HostError::invalid("comment", format!("`comment` is at most {MAX_COMMENT} characters")));
        }
        self.deployment_in(account_id, deployment_id).await?;
        let status = match verdict {
            Verdict::Approve => ApprovalStatus::Approved,
            Verdict::Reject => ApprovalStatus::Rejected,
        };
        let (dep, id) = (deployment_id.to_string(), approval_id.to_string());
        let (row, requeued) = self
            .services()
            .db
            .write(move |conn| {
                let row = store::get(conn, &dep, &id)?.ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
                if row.status != ApprovalStatus::Pending {
                    return Err(StoreError::Conflict(format!(
                        "approval {id} is already {}; a decision cannot be changed",
                        row.status.as_str()
                    )));
                }
                let requeued =
                    super::close_and_requeue(conn, &id, &row.run_id, status, comment.as_deref())?.unwrap_or(false);
                let row = store::get(conn, &dep, &id)?.ok_or_else(|| StoreError::NotFound(id.clone()))?;
                Ok((row, requeued))
            })
            .await?;
        tracing::info!(approval_id = %row.id, run_id = %row.run_id, decision = row.status.as_str(), "approval decided");
        if requeued {
            self.start_run(row.run_id.clone());
        }
        Ok(Approval::from_row(row))
    }
}
