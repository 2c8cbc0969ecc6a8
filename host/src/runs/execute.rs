//! Executing one run: a fresh store and instance of the deployment's harness, the
//! guest's `run` export, and the outcome recorded as the run's status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::HostError;
use crate::runtime::wit::exports::hermes::agent::agent::{Features, RunContext, RunOutcome};
use crate::runtime::{Interrupt, RunEnv, RunState};
use crate::services::Services;
use crate::workspace;
use hermes_events::NewEvent;
use hermes_store::deployments::{self, DeploymentRow};
use hermes_store::runs::{self, RunRow, RunStatus};

/// Grace beyond the instance deadline before the host abandons a stuck host call.
const HOST_CALL_GRACE: Duration = Duration::from_secs(30);
/// Longest error message a guest may set on its run.
const MAX_ERROR: usize = 4096;
/// Instances started back to back for approvals decided while the guest was
/// returning `waiting`; a harness needing more is looping.
const MAX_QUICK_RESUMES: u32 = 16;
/// Bytes of guest stderr quoted in a trap's error message.
const STDERR_TAIL: usize = 600;

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
    // Bounded concurrency: excess runs wait here, queued, never dropped.
    let _slot = services.runtime.slot().await;
    let mut resumed = run.started_at.is_some();
    mark(services, &run, RunStatus::Running, None).await?;

    let mut rounds = 0;
    loop {
        let result = run_guest(services, &run, &dep, cancel.clone(), resumed).await;
        if services.shutdown.is_cancelled() && !cancel.is_cancelled() {
            // Left `running`: the next start resumes it from its transcript.
            tracing::info!("run interrupted by shutdown; it resumes on the next start");
            return Ok(());
        }
        let (status, error, output) = match result {
            Ok(outcome) => outcome,
            Err(e) => (RunStatus::Error, Some(format!("the host could not run the harness: {e}")), None),
        };
        if cancel.is_cancelled() {
            return finish(services, &run.deployment_id, &run.thread_id, &run.id, RunStatus::Cancelled, None).await;
        }
        if status != RunStatus::WaitingOnHuman {
            return finish_with_output(services, &run, status, error.as_deref(), output).await;
        }
        let approval_id = output.unwrap_or_default();
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

async fn run_guest(
    services: &Arc<Services>,
    run: &RunRow,
    dep: &DeploymentRow,
    cancel: CancellationToken,
    resumed: bool,
) -> Result<(RunStatus, Option<String>, Option<String>), HostError> {
    let Some(pre) = services.harnesses.get(&dep.spec.runtime).cloned() else {
        return Ok((RunStatus::Error, Some(format!("unknown runtime {:?}", dep.spec.runtime)), None));
    };
    let limits = services.runtime.limits().clone();
    let secrets = match crate::secrets::resolve(services, &dep.account_id, &dep.spec.secrets).await {
        Ok(s) => Arc::new(s),
        Err(e) => return Ok((RunStatus::Error, Some(format!("the deployment's secrets are unavailable: {e}")), None)),
    };
    let env = Arc::new(RunEnv {
        services: services.clone(),
        deployment_id: dep.id.clone(),
        account_id: dep.account_id.clone(),
        secrets: secrets.clone(),
        customer_id: dep.spec.customer_id.clone(),
        thread_id: run.thread_id.clone(),
        run_id: run.id.clone(),
        spec: Arc::new(dep.spec.clone()),
        workspace: workspace::path(&services.data_dir, &dep.id),
        cancel,
        shutdown: services.shutdown.clone(),
    });
    let ctx = RunContext {
        deployment_id: dep.id.clone(),
        customer_id: dep.spec.customer_id.clone(),
        thread_id: run.thread_id.clone(),
        run_id: run.id.clone(),
        system_prompt: dep.spec.system_prompt.clone(),
        secret_names: dep.spec.secrets.keys().cloned().collect(),
        features: Features {
            memory: dep.spec.features.memory,
            dreaming: dep.spec.features.dreaming,
            automations: dep.spec.features.automations,
            steering: dep.spec.features.steering,
        },
        disabled_tools: dep.spec.disabled_tools.clone(),
        max_iterations: services.config.max_iterations,
        resumed,
    };
    let started = Instant::now();
    let state = RunState::new(env.clone(), limits.max_output_bytes)?;
    let mut store = services.runtime.new_store(state);
    let run_id = run.id.clone();
    let call = async {
        let harness = pre.instantiate_async(&mut store).await?;
        let micros = started.elapsed().as_micros() as u64;
        // Off the critical path: the run does not wait for this bookkeeping write.
        let db = services.db.clone();
        tokio::spawn(async move { db.write(move |conn| runs::set_instantiate_us(conn, &run_id, micros)).await });
        harness.hermes_agent_agent().call_run(&mut store, &ctx).await
    };
    let outcome = tokio::time::timeout(limits.run_deadline + HOST_CALL_GRACE, call).await;
    let (output, dropped) = store.data().output.contents();
    let output = secrets.scrub_owned(output);
    let memory_denied = store.data().limits.memory_denied;
    // The instance is dead after a trap, and idle otherwise: free it now.
    drop(store);
    if !output.is_empty() {
        tracing::info!(bytes = output.len(), dropped, guest_output = %output, "guest output");
    }
    let elapsed = started.elapsed();
    let (status, error, answer) = match outcome {
        Err(_) => (RunStatus::Error, Some(format!("the run exceeded its deadline of {:?}", limits.run_deadline)), None),
        // What the guest returns is bounded like everything else crossing WIT.
        Ok(Ok(Ok(RunOutcome::Completed(text)))) => {
            (RunStatus::Completed, None, Some(crate::imports::preview(&text, crate::imports::MAX_TEXT)))
        }
        // The approval id rides in the answer slot: `execute_inner` parks the run on it.
        Ok(Ok(Ok(RunOutcome::Waiting(approval_id)))) => (RunStatus::WaitingOnHuman, None, Some(approval_id)),
        Ok(Ok(Err(message))) => (RunStatus::Error, Some(crate::imports::preview(&message, MAX_ERROR)), None),
        Ok(Err(trap)) => {
            tracing::warn!(error = %format!("{trap:#}"), ?elapsed, "guest trapped");
            (RunStatus::Error, Some(describe_trap(&trap, memory_denied, &limits, &output)), None)
        }
    };
    // What the guest returns is persisted: scrubbed like everything else it produces.
    Ok((status, error.map(|e| secrets.scrub_owned(e)), answer.map(|a| secrets.scrub_owned(a))))
}

/// A trap, phrased for the vendor reading `run_status.error`.
fn describe_trap(
    trap: &wasmtime::Error,
    memory_denied: bool,
    limits: &crate::runtime::SandboxLimits,
    output: &str,
) -> String {
    if let Some(i) = trap.downcast_ref::<Interrupt>() {
        return i.to_string();
    }
    if memory_denied {
        return format!("the guest exceeded its memory limit of {} MiB", limits.max_memory_bytes >> 20);
    }
    let what = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(t) => t.to_string(),
        None => format!("{trap}"),
    };
    let tail = output.trim_end();
    if tail.is_empty() {
        format!("the guest trapped: {what}")
    } else {
        let start = tail.len().saturating_sub(STDERR_TAIL);
        let start = (start..tail.len()).find(|i| tail.is_char_boundary(*i)).unwrap_or(tail.len());
        format!("the guest trapped: {what}; its last output: {}", &tail[start..])
    }
}

async fn mark(services: &Services, run: &RunRow, status: RunStatus, error: Option<&str>) -> Result<(), HostError> {
    finish(services, &run.deployment_id, &run.thread_id, &run.id, status, error).await
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
    let mut payload = json!({"status": status.as_str()});
    if let Some(e) = error {
        payload["error"] = json!(e);
    }
    let event = NewEvent::new("run_status", deployment_id, payload).scoped(Some(thread_id), Some(run_id));
    let (id, error) = (run_id.to_string(), error.map(str::to_string));
    services
        .hub
        .commit(deployment_id, move |conn| {
            if let Some(text) = &output {
                runs::set_output(conn, &id, text)?;
            }
            runs::set_status(conn, &id, status, error.as_deref())?;
            if status.is_terminal() {
                crate::approvals::run_ended(conn, &id)?;
            }
            Ok(((), vec![event]))
        })
        .await?;
    Ok(())
}
