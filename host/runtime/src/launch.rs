//! The one instance launcher: runs and dreams both start here, so both get the same
//! fresh store, the same deadline (plus grace for a stuck host call), the same
//! bounds on what the guest returns, the same scrubbing, and the same trap report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hermes_types::text::{MAX_TEXT, preview};

use crate::wit::HarnessPre;
use crate::wit::exports::hermes::agent::agent::{RunContext, RunOutcome};
use crate::{Interrupt, RunEnv, RunState, Runtime, SandboxLimits};

/// Grace beyond the instance deadline before the host abandons a stuck host call.
const HOST_CALL_GRACE: Duration = Duration::from_secs(30);
/// Longest error message a guest may set on its run.
const MAX_ERROR: usize = 4096;
/// Longest dream summary kept.
const MAX_SUMMARY: usize = 4096;
/// How long a cancelled or shut-down instance gets to trap at its next epoch tick
/// before the host abandons it (a guest blocked in a WASI sleep or poll never ticks).
const STOP_GRACE: Duration = Duration::from_millis(250);
/// Bytes of guest stderr quoted in a trap's error message.
const STDERR_TAIL: usize = 600;

/// Which export of the harness an instance runs.
pub enum Entry {
    /// `agent.run`: one run of a thread.
    Run(RunContext),
    /// `agent.dream`: consolidate memory and skills while the deployment is idle.
    Dream(RunContext),
}

impl Entry {
    fn noun(&self) -> &'static str {
        match self {
            Entry::Run(_) => "run",
            Entry::Dream(_) => "dream",
        }
    }
}

/// How an instance ended; every text is bounded and scrubbed of the run's secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceOutcome {
    /// The guest finished: the run's answer, or the dream's summary.
    Completed(String),
    /// The run waits on this approval id (runs only); the instance is gone.
    Waiting(String),
    /// The guest returned an error, trapped, or ran out of time: why, for a person.
    Failed(String),
}

/// One instance to launch.
pub struct Launch<'a> {
    /// The harness, pre-linked.
    pub harness: &'a HarnessPre<RunState>,
    /// The run's environment (its ports, workspace, cancellation).
    pub env: Arc<RunEnv>,
    /// Which export to call.
    pub entry: Entry,
    /// Called with the instantiation time in µs once the instance exists.
    pub on_instantiated: Option<Box<dyn FnOnce(u64) + Send>>,
}

impl Runtime {
    /// Instantiates the harness in a fresh store, calls the export, frees the store,
    /// and says how it ended. The caller holds an instance slot ([`Runtime::slot`]).
    pub async fn launch(&self, launch: Launch<'_>) -> InstanceOutcome {
        let Launch { harness, env, entry, on_instantiated } = launch;
        let limits = self.limits().clone();
        let noun = entry.noun();
        let started = Instant::now();
        let quota = self.workspace_quota(&env.workspace).await;
        let state = match RunState::new(env.clone(), limits.max_output_bytes, quota) {
            Ok(s) => s,
            Err(e) => return InstanceOutcome::Failed(format!("the host could not run the harness: {e}")),
        };
        let mut store = self.new_store(state);
        let call = async {
            let instance = harness.instantiate_async(&mut store).await?;
            if let Some(report) = on_instantiated {
                report(started.elapsed().as_micros() as u64);
            }
            let agent = instance.hermes_agent_agent();
            Ok::<_, wasmtime::Error>(match &entry {
                Entry::Run(ctx) => agent.call_run(&mut store, ctx).await?.map_err(|e| preview(&e, MAX_ERROR)),
                Entry::Dream(ctx) => agent
                    .call_dream(&mut store, ctx)
                    .await?
                    .map(|r| RunOutcome::Completed(preview(&r.summary, MAX_SUMMARY)))
                    .map_err(|e| preview(&e, MAX_SUMMARY)),
            })
        };
        let stopped = async {
            let why = tokio::select! {
                _ = env.cancel.cancelled() => Interrupt::Cancelled,
                _ = env.shutdown.cancelled() => Interrupt::Shutdown,
            };
            tokio::time::sleep(STOP_GRACE).await;
            why
        };
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(limits.run_deadline + HOST_CALL_GRACE, call) => outcome,
            // Dropping the call drops the instance's future: the guest is gone.
            why = stopped => Ok(Err(wasmtime::Error::new(why))),
        };
        let (output, dropped) = store.data().output.contents();
        let output = env.secrets.scrub_owned(output);
        let memory_denied = store.data().limits.memory_denied;
        // The instance is dead after a trap, and idle otherwise: free it now.
        drop(store);
        if !output.is_empty() {
            tracing::info!(bytes = output.len(), dropped, guest_output = %output, "guest output");
        }
        let outcome = match outcome {
            Err(_) => InstanceOutcome::Failed(format!("the {noun} exceeded its deadline of {:?}", limits.run_deadline)),
            // What the guest returns is bounded like everything else crossing WIT.
            Ok(Ok(Ok(RunOutcome::Completed(text)))) => InstanceOutcome::Completed(preview(&text, MAX_TEXT)),
            Ok(Ok(Ok(RunOutcome::Waiting(approval_id)))) => InstanceOutcome::Waiting(approval_id),
            Ok(Ok(Err(message))) => InstanceOutcome::Failed(message),
            Ok(Err(trap)) => {
                tracing::warn!(error = %format!("{trap:#}"), elapsed = ?started.elapsed(), "guest trapped");
                InstanceOutcome::Failed(describe_trap(&trap, memory_denied, &limits, &output))
            }
        };
        // What the guest returns is persisted: scrubbed like everything else it produces.
        match outcome {
            InstanceOutcome::Completed(t) => InstanceOutcome::Completed(env.secrets.scrub_owned(t)),
            InstanceOutcome::Failed(t) => InstanceOutcome::Failed(env.secrets.scrub_owned(t)),
            waiting => waiting,
        }
    }
}

/// A trap, phrased for the vendor reading `run_status.error`.
fn describe_trap(trap: &wasmtime::Error, memory_denied: bool, limits: &SandboxLimits, output: &str) -> String {
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
    match crate::output::tail(output, STDERR_TAIL) {
        "" => format!("the guest trapped: {what}"),
        tail => format!("the guest trapped: {what}; its last output: {tail}"),
    }
}
