//! Rejects pending approvals whose policy timeout passed. The deadline is stored with
//! the approval (`expires_at`), so a restart loses nothing: the first sweep after it
//! closes whatever expired while the host was down.

use std::sync::Arc;
use std::time::Duration;

use crate::HostError;
use crate::handle::RunStarter;
use crate::services::Services;
use hermes_store::approvals::{self as store, ApprovalStatus};

/// How often pending approvals are checked: the timeout's resolution.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Approvals closed per query.
const BATCH: u32 = 200;

/// Starts the sweeper; it stops with the host.
pub(crate) fn spawn(services: Arc<Services>, runs: Arc<dyn RunStarter>) {
    services.clone().tasks.spawn(async move {
        let mut interval = tokio::time::interval(SWEEP_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = services.shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            if let Err(e) = sweep(&services, runs.as_ref()).await {
                if services.shutdown.is_cancelled() {
                    break;
                }
                tracing::warn!(error = %e, "approval sweep failed; retrying");
            }
        }
    });
}

/// Closes every approval expired by now as `expired` and re-queues its run; how many.
pub(crate) async fn sweep(services: &Arc<Services>, runs: &dyn RunStarter) -> Result<usize, HostError> {
    let mut closed = 0;
    loop {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let due = services.db.read(move |conn| store::expired(conn, now_ms, BATCH)).await?;
        if due.is_empty() {
            return Ok(closed);
        }
        let full = due.len() == BATCH as usize;
        for (id, run_id) in due {
            let aid = id.clone();
            let requeued = services
                .db
                .write(move |conn| {
                    // A decision that won the race leaves nothing to do.
                    let requeued =
                        super::close_and_requeue(conn, &aid, &run_id, ApprovalStatus::Expired, Some(super::EXPIRED))?;
                    Ok(requeued.unwrap_or(false).then_some(run_id))
                })
                .await?;
            closed += 1;
            tracing::info!(approval_id = %id, "approval expired; rejected");
            if let Some(run_id) = requeued {
                runs.start(run_id);
            }
        }
        if !full {
            return Ok(closed);
        }
    }
}
