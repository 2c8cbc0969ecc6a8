//! Executing one run: a fresh store and instance of the deployment's harness, the
//! guest's `run` export, and the outcome recorded as the run's status.

use std::sync::Arc;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::HostError;
use crate::instances::{self, Instance, Purpose};
use crate::services::Services;
use hermes_events::NewEvent;
use hermes_runtime::InstanceOutcome;
use hermes_store::deployments::{self, DeploymentRow};
use hermes_store::runs::{self, RunRow, RunStatus};

/// Instances started back to back for approvals decided while the guest was
/// returning `waiting`; a harness needing more is looping.
const MAX_QUICK_RESUMES: u32 = 16;

/// Runs `run_id` to its next resting state; never panics, never returns an error:
/// every failure becomes the run's `error` status.
pub(crate) async fn execute(services: Arc<Services>, run_id: String, cancel: CancellationToken) {
    if let Err(e) = execute_inner(&services, &run_id, cancel).await {
        tracing::error!(error = %e, "run failed in the host");
    }
}

async fn execute_inner(services: &Arc<Services>, run_id: &str, cancel: CancellationToken) -> Result<(), HostError> {
    let id = run_id.to_string();
    let loaded = services
        .db
        .read(move |conn| {
            let Some(run) = runs::get(conn, &id)? else { return Ok(None) };
            let dep = deployments::get(conn, &run.deployment_id)?;
            Ok(dep.map(|d| (run, d)))
        })
        .await?;
    let Some((run, dep)) = loaded else { return Ok(()) };
    if run.status.is_terminal() || run.status == RunStatus::WaitingOnHuman {
        return Ok(());
    }
    // Bounded concurrency: excess runs wait here, queued, never dropped — unless the
    // run is cancelled meanwhile (`cancel` already recorded that in the store).
    let tenant = hermes_runtime::Tenant { account: dep.account_id.clone(), deployment: dep.id.clone() };
    let _slot = tokio::select! {
        slot = services.runtime.slot(&tenant) => slot,
        _ = cancel.cancelled() => return Ok(()),
    };
    let mut resumed = run.started_at.is_some();
    if !claim(services, &run).await? {
        // Another executor claimed it first, or it was cancelled while queued.
        return Ok(());
    }

    let mut rounds = 0;
    loop {
        let outcome = run_guest(services, &run, &dep, cancel.clone(), resumed).await;
        if services.shutdown.is_cancelled() && !cancel.is_cancelled() {
            // Left `running`: the next start resumes it from its transcript.
            tracing::info!("run interrupted by shutdown; it resumes on the next start");
            return Ok(());
        }
        if cancel.is_cancelled() {
            return finish(services, &run.deployment_id, &run.thread_id, &run.id, RunStatus::Cancelled, None).await;
        }
        let approval_id = match outcome {
            InstanceOutcome::Completed(answer) => {
                return finish_with_output(services, &run, RunStatus::Completed, None, Some(answer)).await;
            }
            InstanceOutcome::Failed(error) => {
                return finish_with_output(services, &run, RunStatus::Error, Some(&error), None).await;
            }
            InstanceOutcome::Waiting(approval_id) => approval_id,
        };
        match crate::approvals::park(services, &run, &approval_id).await? {
            // Parked: the instance is gone and the slot is freed on return.
            crate::approvals::Parked::Waiting => return Ok(()),
            // Decided while the guest was returning: a fresh instance gets the decision.
            crate::approvals::Parked::Decided if rounds < MAX_QUICK_RESUMES => {
                rounds += 1;
                resumed = true;
            }
            crate::approvals::Parked::Decided => {
                let e = "the harness kept waiting on approvals that were already decided";
                return finish(services, &run.deployment_id, &run.thread_id, &run.id, RunStatus::Error, Some(e)).await;
            }
            crate::approvals::Parked::Unknown => {
                let e =
                    format!("the harness returned `waiting` on {approval_id:?}, which is not an approval of this run");
                return finish(services, &run.deployment_id, &run.thread_id, &run.id, RunStatus::Error, Some(&e)).await;
            }
        }
    }
}

/// One instance of the run, from its start (or resumption) to its next resting state.
async fn run_guest(
    services: &Arc<Services>,
    run: &RunRow,
    dep: &DeploymentRow,
    cancel: CancellationToken,
    resumed: bool,
) -> InstanceOutcome {
    let (db, run_id) = (services.db.clone(), run.id.clone());
    // Off the critical path: the run does not wait for this bookkeeping write.
    let record_instantiation = Box::new(move |micros: u64| {
        tokio::spawn(async move { db.write(move |conn| runs::set_instantiate_us(conn, &run_id, micros)).await });
    });
    let instance = Instance {
        deployment_id: &dep.id,
        account_id: &dep.account_id,
        spec: &dep.spec,
        thread_id: &run.thread_id,
        run_id: &run.id,
        purpose: Purpose::Run { resumed },
        cancel,
    };
    instances::launch(services, instance, Some(record_instantiation)).await
}

/// Cancels a run no executor has claimed yet, with its `run_status` event, in one
/// commit: the thread is free at once, and the executor waiting for a slot finds
/// nothing to claim. False when the run is not queued.
pub(crate) async fn cancel_if_queued(services: &Services, run: &RunRow) -> Result<bool, HostError> {
    transition(services, run, RunStatus::Cancelled, runs::cancel_queued).await
}

/// Claims the queued run for this executor and announces `running`, in one commit;
/// false when it was not queued any more.
async fn claim(services: &Services, run: &RunRow) -> Result<bool, HostError> {
    transition(services, run, RunStatus::Running, runs::claim).await
}

/// Moves `run` to `status` with a conditional store update and announces it in the
/// same commit; false (and no event) when the update found the run elsewhere.
async fn transition(
    services: &Services,
    run: &RunRow,
    status: RunStatus,
    update: fn(&hermes_store::Tx<'_>, &str, &str) -> Result<bool, hermes_store::StoreError>,
) -> Result<bool, HostError> {
    let event = status_event(&run.deployment_id, &run.thread_id, &run.id, status, None);
    let id = run.id.clone();
    let (moved, _) = services
        .hub
        .commit(&run.deployment_id, move |conn| {
            if !update(conn, &id, &hermes_types::ids::now())? {
                return Ok((false, Vec::new()));
            }
            if status.is_terminal() {
                crate::approvals::run_ended(conn, &id)?;
            }
            Ok((true, vec![event]))
        })
        .await?;
    Ok(moved)
}

/// The `run_status` event announcing `status` (and why, for an error).
fn status_event(
    deployment_id: &str,
    thread_id: &str,
    run_id: &str,
    status: RunStatus,
    error: Option<&str>,
) -> NewEvent {
    let mut payload = json!({"status": status.as_str()});
    if let Some(e) = error {
        payload["error"] = json!(e);
    }
    NewEvent::new("run_status", deployment_id, payload).scoped(Some(thread_id), Some(run_id))
}

/// Records a run's status and announces it with a `run_status` event, atomically.
pub(crate) async fn finish(
    services: &Services,
    deployment_id: &str,
    thread_id: &str,
    run_id: &str,
    status: RunStatus,
    error: Option<&str>,
) -> Result<(), HostError> {
    record(services, deployment_id, thread_id, run_id, status, error, None).await
}

/// Like [`finish`], also storing the run's final answer, in the same commit.
async fn finish_with_output(
    services: &Services,
    run: &RunRow,
    status: RunStatus,
    error: Option<&str>,
    output: Option<String>,
) -> Result<(), HostError> {
    record(services, &run.deployment_id, &run.thread_id, &run.id, status, error, output).await
}

async fn record(
    services: &Services,
    deployment_id: &str,
    thread_id: &str,
    run_id: &str,
    status: RunStatus,
    error: Option<&str>,
    output: Option<String>,
) -> Result<(), HostError> {
    let event = status_event(deployment_id, thread_id, run_id, status, error);
    let (id, error) = (run_id.to_string(), error.map(str::to_string));
    services
        .hub
        .commit(deployment_id, move |conn| {
            if let Some(text) = &output {
                runs::set_output(conn, &id, text)?;
            }
            runs::set_status(conn, &id, status, error.as_deref(), &hermes_types::ids::now())?;
            if status.is_terminal() {
                crate::approvals::run_ended(conn, &id)?;
            }
            Ok(((), vec![event]))
        })
        .await?;
    Ok(())
}
