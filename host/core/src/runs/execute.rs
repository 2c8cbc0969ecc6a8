//! Executing one run: a fresh store and instance of the deployment's harness, the
//! guest's `run` export, and the outcome recorded as the run's status.

use std::sync::Arc;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::HostError;
use crate::handle::RunStarter;
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
pub(crate) async fn execute(
    services: Arc<Services>,
    starter: Arc<dyn RunStarter>,
    run_id: String,
    cancel: CancellationToken,
) {
    if let Err(e) = execute_inner(&services, &starter, &run_id, cancel).await {
        tracing::error!(error = %e, "run failed in the host");
    }
}

async fn execute_inner(
    services: &Arc<Services>,
    starter: &Arc<dyn RunStarter>,
    run_id: &str,
    cancel: CancellationToken,
) -> Result<(), HostError> {
    let id = run_id.to_string();
    let max_depth = services.config.subagents.max_depth;
    let loaded = services
        .db
        .read(move |conn| {
            let Some(run) = runs::get(conn, &id)? else { return Ok(None) };
            let depth = runs::depth(conn, &id, max_depth)?;
            let mut dep = deployments::get(conn, &run.deployment_id)?;
            // A thread pinned to its own configuration (a session on an agent
            // version) runs under it, whatever its deployment has since become.
            if let (Some(d), Some(spec)) = (dep.as_mut(), hermes_store::threads::pinned_spec(conn, &run.thread_id)?) {
                d.spec = spec;
            }
            Ok(dep.map(|d| (run, d, depth)))
        })
        .await?;
    let Some((run, dep, depth)) = loaded else { return Ok(()) };
    let model = services.config.model_of(&dep.spec);
    crate::trace::describe_run(&dep.id, &run.thread_id, model);
    if run.status.is_terminal() || run.status.is_parked() {
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
    if !claim(services, starter.as_ref(), &run).await? {
        // Another executor claimed it first, or it was cancelled while queued.
        return Ok(());
    }
    // Observed when this executor lets go of the run, however it ends.
    let _worked = WorkTimer(std::time::Instant::now());

    let mut rounds = 0;
    let finish = |status, error: Option<String>| {
        let run = &run;
        async move {
            finish(services, starter.as_ref(), &run.deployment_id, &run.thread_id, &run.id, status, error.as_deref())
                .await
        }
    };
    loop {
        let outcome = run_guest(services, starter, &run, &dep, depth, cancel.clone(), resumed).await;
        if services.shutdown.is_cancelled() && !cancel.is_cancelled() {
            // Left `running`: the next start resumes it from its transcript.
            tracing::info!("run interrupted by shutdown; it resumes on the next start");
            return Ok(());
        }
        if cancel.is_cancelled() {
            return finish(RunStatus::Cancelled, None).await;
        }
        let waiting_on = match outcome {
            InstanceOutcome::Completed(answer) => {
                return record(services, starter.as_ref(), &run, RunStatus::Completed, None, Some(answer)).await;
            }
            InstanceOutcome::Failed(error) => {
                return record(services, starter.as_ref(), &run, RunStatus::Error, Some(&error), None).await;
            }
            InstanceOutcome::Waiting(id) => id,
        };
        match park(services, &run, &waiting_on).await? {
            // Parked: the instance is gone and the slot is freed on return.
            Parked::Waiting => return Ok(()),
            // Decided (or every child ended) while the guest was returning: a fresh
            // instance gets the outcome.
            Parked::Decided if rounds < MAX_QUICK_RESUMES => {
                rounds += 1;
                resumed = true;
            }
            Parked::Decided => {
                let e = "the harness kept waiting on approvals or subagents that had already ended";
                return finish(RunStatus::Error, Some(e.into())).await;
            }
            Parked::Unknown => {
                let e = format!(
                    "the harness returned `waiting` on {waiting_on:?}, which is neither an approval nor a subagent of \
                     this run"
                );
                return finish(RunStatus::Error, Some(e)).await;
            }
        }
    }
}

/// Records in `hermes_run_duration_seconds` how long an executor worked on a run.
struct WorkTimer(std::time::Instant);

impl Drop for WorkTimer {
    fn drop(&mut self) {
        hermes_metrics::global().run_duration.observe(self.0.elapsed().as_secs_f64());
    }
}

/// Where parking a run that returned `waiting` left it, whatever it waits on.
enum Parked {
    Waiting,
    Decided,
    Unknown,
}

/// Parks `run` on what its guest waits for: a child run (`run_…`) or an approval.
async fn park(services: &Services, run: &RunRow, waiting_on: &str) -> Result<Parked, HostError> {
    if waiting_on.starts_with("run_") {
        return Ok(match crate::subagents::park(services, run, waiting_on).await? {
            crate::subagents::Parked::Waiting => Parked::Waiting,
            crate::subagents::Parked::Ended => Parked::Decided,
            crate::subagents::Parked::Unknown => Parked::Unknown,
        });
    }
    Ok(match crate::approvals::park(services, run, waiting_on).await? {
        crate::approvals::Parked::Waiting => Parked::Waiting,
        crate::approvals::Parked::Decided => Parked::Decided,
        crate::approvals::Parked::Unknown => Parked::Unknown,
    })
}

/// One instance of the run, from its start (or resumption) to its next resting state.
async fn run_guest(
    services: &Arc<Services>,
    starter: &Arc<dyn RunStarter>,
    run: &RunRow,
    dep: &DeploymentRow,
    depth: u32,
    cancel: CancellationToken,
    resumed: bool,
) -> InstanceOutcome {
    let (db, run_id) = (services.db.clone(), run.id.clone());
    // Off the critical path: the run does not wait for this bookkeeping write.
    let record_instantiation = Box::new(move |micros: u64| {
        hermes_metrics::global().instantiate.observe(micros as f64 / 1e6);
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
        run: Some(instances::RunOf {
            starter: starter.clone(),
            depth,
            tools: run.child_tools.clone(),
            max_turns: run.max_turns,
            subagent: run.parent_run_id.is_some(),
        }),
    };
    instances::launch(services, instance, Some(record_instantiation)).await
}

/// Cancels a run no executor has claimed yet, with its `run_status` event, in one
/// commit: the thread is free at once, and the executor waiting for a slot finds
/// nothing to claim. False when the run is not queued.
pub(crate) async fn cancel_if_queued(
    services: &Services,
    starter: &dyn RunStarter,
    run: &RunRow,
) -> Result<bool, HostError> {
    transition(services, starter, run, RunStatus::Cancelled, runs::cancel_queued).await
}

/// Claims the queued run for this executor and announces `running`, in one commit;
/// false when it was not queued any more.
async fn claim(services: &Services, starter: &dyn RunStarter, run: &RunRow) -> Result<bool, HostError> {
    transition(services, starter, run, RunStatus::Running, runs::claim).await
}

/// Moves `run` to `status` with a conditional store update and announces it in the
/// same commit; false (and no event) when the update found the run elsewhere.
async fn transition(
    services: &Services,
    starter: &dyn RunStarter,
    run: &RunRow,
    status: RunStatus,
    update: fn(&hermes_store::Tx<'_>, &str, &str) -> Result<bool, hermes_store::StoreError>,
) -> Result<bool, HostError> {
    let event = status_event(&run.deployment_id, &run.thread_id, &run.id, status, None);
    let id = run.id.clone();
    let ((moved, wake), _) = services
        .hub
        .commit(&run.deployment_id, move |conn| {
            if !update(conn, &id, &hermes_types::ids::now())? {
                return Ok(((false, None), Vec::new()));
            }
            let (events, wake) = settle(conn, &id, status, event)?;
            Ok(((true, wake), events))
        })
        .await?;
    if let Some(parent) = wake {
        starter.start(parent);
    }
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

/// Records a run's status and announces it with a `run_status` event, atomically;
/// a parent this ended the last child of is re-queued and started.
pub(crate) async fn finish(
    services: &Services,
    starter: &dyn RunStarter,
    deployment_id: &str,
    thread_id: &str,
    run_id: &str,
    status: RunStatus,
    error: Option<&str>,
) -> Result<(), HostError> {
    let ids = RunIds { deployment_id, thread_id, run_id };
    commit_status(services, starter, ids, status, error, None).await
}

/// Like [`finish`], also storing the run's final answer, in the same commit.
async fn record(
    services: &Services,
    starter: &dyn RunStarter,
    run: &RunRow,
    status: RunStatus,
    error: Option<&str>,
    output: Option<String>,
) -> Result<(), HostError> {
    let ids = RunIds { deployment_id: &run.deployment_id, thread_id: &run.thread_id, run_id: &run.id };
    commit_status(services, starter, ids, status, error, output).await
}

/// Which run a status is for.
#[derive(Clone, Copy)]
struct RunIds<'a> {
    deployment_id: &'a str,
    thread_id: &'a str,
    run_id: &'a str,
}

async fn commit_status(
    services: &Services,
    starter: &dyn RunStarter,
    ids: RunIds<'_>,
    status: RunStatus,
    error: Option<&str>,
    output: Option<String>,
) -> Result<(), HostError> {
    let event = status_event(ids.deployment_id, ids.thread_id, ids.run_id, status, error);
    if status == RunStatus::Error {
        crate::trace::record_error("run_error");
    }
    let (id, error) = (ids.run_id.to_string(), error.map(str::to_string));
    let (wake, _) = services
        .hub
        .commit(ids.deployment_id, move |conn| {
            if let Some(text) = &output {
                runs::set_output(conn, &id, text)?;
            }
            runs::set_status(conn, &id, status, error.as_deref(), &hermes_types::ids::now())?;
            let (events, wake) = settle(conn, &id, status, event)?;
            Ok((wake, events))
        })
        .await?;
    if let Some(parent) = wake {
        starter.start(parent);
    }
    Ok(())
}

/// In the commit that moved run `id` to `status`: its `run_status` event (marked with
/// its parent, for a subagent) and, once it is final, its approvals closed and its
/// parent told. The events to append and the parent to start, if this woke one.
fn settle(
    conn: &hermes_store::Tx<'_>,
    id: &str,
    status: RunStatus,
    mut event: NewEvent,
) -> Result<(Vec<NewEvent>, Option<String>), hermes_store::StoreError> {
    // One read of the run, after the write: its parent link and its final fields.
    let row = runs::get(conn, id)?;
    if let Some(parent) = row.as_ref().and_then(|r| r.parent_run_id.as_ref()) {
        event.payload.insert("parent_run_id".into(), json!(parent));
    }
    let mut events = vec![event];
    if !status.is_terminal() {
        return Ok((events, None));
    }
    crate::approvals::run_ended(conn, id)?;
    let Some(row) = row else { return Ok((events, None)) };
    let (told, parent) = crate::subagents::ended(conn, &row)?;
    events.extend(told);
    Ok((events, parent))
}
