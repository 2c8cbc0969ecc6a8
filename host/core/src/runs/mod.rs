//! Run lifecycle: accept a message, queue its run, execute it in a fresh instance,
//! cancel it, and resume unfinished runs after a restart.

mod execute;

use hermes_types::sync::Locked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::HostError;
use crate::handle::RunStarter;
use crate::services::Services;
use hermes_events::NewEvent;
use hermes_store::deployments::DeploymentStatus;
use hermes_store::runs::{self, RunStatus};
use hermes_store::threads::{self, MessageRow, Role};
use hermes_store::{StoreError, deployments};

/// A run as the embedding API shows it (the store's row stays behind the store).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Run {
    /// `run_…`
    pub id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Thread it runs on.
    pub thread_id: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The agent's final answer, when completed.
    pub output: Option<String>,
    /// Microseconds to create its last instance (fresh store + instantiation).
    pub instantiate_us: Option<u64>,
    /// Prompt tokens charged so far, its subagents' included.
    pub input_tokens: u64,
    /// Completion tokens charged so far, its subagents' included.
    pub output_tokens: u64,
    /// RFC 3339.
    pub created_at: String,
    /// When an executor first claimed it.
    pub started_at: Option<String>,
    /// When it reached a terminal status.
    pub finished_at: Option<String>,
    /// The run that delegated this one, for a subagent.
    pub parent_run_id: Option<String>,
}

impl From<runs::RunRow> for Run {
    fn from(r: runs::RunRow) -> Run {
        Run {
            id: r.id,
            deployment_id: r.deployment_id,
            thread_id: r.thread_id,
            status: r.status,
            error: r.error,
            output: r.output,
            instantiate_us: r.instantiate_us,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            parent_run_id: r.parent_run_id,
        }
    }
}

/// Which thread a message goes to.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ThreadTarget {
    /// The deployment's default thread.
    #[default]
    Default,
    /// A new thread.
    New,
    /// An existing thread by id.
    Id(String),
}

/// What sending a message started (or joined).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunTicket {
    /// The run handling the message.
    pub run_id: String,
    /// The thread the message went to.
    pub thread_id: String,
    /// `queued` for a new run; the active run's status when the message became
    /// steering input for it.
    pub status: &'static str,
}

/// The run manager as the domain's [`RunStarter`]: spawns with the host's services.
pub(crate) struct Starter {
    /// The manager tracking live runs.
    pub runs: RunManager,
    /// What executors run with.
    pub services: Arc<Services>,
}

impl RunStarter for Starter {
    fn start(&self, run_id: String) {
        self.runs.spawn(&self.services, run_id);
    }
}

/// Tracks live runs so they can be cancelled.
#[derive(Clone, Default)]
pub(crate) struct RunManager {
    live: Arc<Mutex<HashMap<String, Arc<CancellationToken>>>>,
    /// The trace context of runs sent here and not yet started, so the common case
    /// (sent and started on this host) needs no store read for it; the store's copy
    /// serves a run resumed after a restart or taken over by another host.
    traces: Arc<Mutex<HashMap<String, String>>>,
}

/// Most trace contexts held for runs not yet started (beyond it, they are read back
/// from the store when their run starts).
const MAX_PENDING_TRACES: usize = 10_000;

impl RunManager {
    /// Persists the user message and either starts a run or hands the message to
    /// the thread's active run as steering input.
    pub async fn send(
        &self,
        services: &Arc<Services>,
        deployment_id: &str,
        content: String,
        target: ThreadTarget,
        attachments: Vec<threads::Attachment>,
    ) -> Result<RunTicket, HostError> {
        let dep_id = deployment_id.to_string();
        let max_queued = services.config.tenants.max_queued_runs;
        // The run joins the trace of the request that sent the message.
        let trace = hermes_telemetry::traceparent();
        let pending_trace = trace.clone();
        let ticket = services
            .hub
            .commit(deployment_id, move |conn| {
                let dep = deployments::get(conn, &dep_id)?
                    .ok_or_else(|| StoreError::NotFound(format!("deployment {dep_id}")))?;
                if dep.status != DeploymentStatus::Ready {
                    return Err(StoreError::Conflict(format!(
                        "deployment {dep_id} is {}; wait until it is ready",
                        dep.status.as_str()
                    )));
                }
                // Checked in the same transaction that accepts the message.
                if let Some(balance) = hermes_store::accounts::credits(conn, &dep.account_id)?
                    && balance <= 0
                {
                    return Err(StoreError::InsufficientCredits(balance));
                }
                let thread_id = match target {
                    ThreadTarget::Default => dep.default_thread_id.clone(),
                    ThreadTarget::New => {
                        let id = hermes_types::ids::new_id("thr");
                        threads::insert_thread(conn, &dep_id, &id, None, &hermes_types::ids::now())?;
                        id
                    }
                    ThreadTarget::Id(id) => {
                        if !threads::thread_exists(conn, &dep_id, &id)? {
                            return Err(StoreError::NotFound(format!("thread {id}")));
                        }
                        id
                    }
                };
                let active = runs::active_on_thread(conn, &thread_id)?;
                // `start`: this call created or re-queued the run, so it (and only
                // it) starts an executor; a message joining a queued or running run
                // is steering input for the executor that run already has.
                let (run_id, status, delivered, start) = match active {
                    // A message while the run waits for a human is the human's answer:
                    // it closes the pending approval and re-queues the run (spawned below).
                    Some((run_id, _)) if crate::approvals::answer(conn, &run_id)? => {
                        (run_id, RunStatus::Queued.as_str(), false, true)
                    }
                    Some((run_id, status)) => (run_id, status.as_str(), false, false),
                    None => {
                        // Counted in the transaction that queues the run, so the bound holds
                        // exactly however many messages arrive at once.
                        if max_queued > 0 && runs::queued_for_account(conn, &dep.account_id)? >= max_queued {
                            return Err(StoreError::Limited(format!(
                                "this account already has {max_queued} runs waiting for an instance slot; \
                                 retry when some have started"
                            )));
                        }
                        let id = hermes_types::ids::new_id("run");
                        runs::insert(
                            conn,
                            &id,
                            &dep_id,
                            &thread_id,
                            crate::instance::id(),
                            &hermes_types::ids::now(),
                            None,
                        )?;
                        if let Some(tp) = &trace {
                            runs::set_traceparent(conn, &id, tp)?;
                        }
                        (id, RunStatus::Queued.as_str(), true, true)
                    }
                };
                let msg = MessageRow {
                    id: hermes_types::ids::new_id("msg"),
                    thread_id: thread_id.clone(),
                    run_id: Some(run_id.clone()),
                    role: Role::User,
                    content,
                    tool_calls: Vec::new(),
                    tool_call_id: None,
                    is_error: false,
                    delivered,
                    created_at: hermes_types::ids::now(),
                    attachments,
                };
                threads::insert_message(conn, &msg)?;
                let mut payload =
                    json!({"message_id": msg.id, "role": "user", "content": msg.content, "steering": !delivered});
                if !msg.attachments.is_empty() {
                    payload["attachments"] = json!(msg.attachments);
                }
                let event = NewEvent::new("message", &dep_id, payload).scoped(Some(&thread_id), Some(&run_id));
                Ok(((RunTicket { run_id, thread_id, status }, start), vec![event]))
            })
            .await
            .map_err(|e| match e {
                // The one conflict a send can meet: the deployment is not ready yet.
                StoreError::Conflict(m) => HostError::NotReady(m),
                other => other.into(),
            })?
            .0;
        let (ticket, start) = ticket;
        // Only a run this call starts here: steering input joins a run already going.
        if let Some(tp) = pending_trace
            && start
        {
            let mut traces = self.traces.locked();
            if traces.len() < MAX_PENDING_TRACES {
                traces.insert(ticket.run_id.clone(), tp);
            }
        }
        // Conversations come first: a dream in progress on this deployment yields.
        services.dreams.yield_to_user(deployment_id);
        if start {
            self.spawn(services, ticket.run_id.clone());
        }
        Ok(ticket)
    }

    /// Starts executing a run on the tokio runtime.
    pub fn spawn(&self, services: &Arc<Services>, run_id: String) {
        let cancel = Arc::new(CancellationToken::new());
        self.live.locked().insert(run_id.clone(), cancel.clone());
        let (services, tasks) = (services.clone(), services.tasks.clone());
        let manager = self.clone();
        let starter: Arc<dyn RunStarter> = Arc::new(self.starter(&services));
        tasks.spawn(async move {
            // The span takes its parent before it is first entered (after that the
            // OpenTelemetry span has started and its parent is fixed).
            let known = manager.traces.locked().remove(&run_id);
            let span = crate::trace::run_span(&services.db, &run_id, known).await;
            async move {
                execute::execute(services.clone(), starter, run_id.clone(), (*cancel).clone()).await;
                // A human may have resumed the run (a new executor, a new token) just
                // after this one parked it: remove only our own entry.
                {
                    let mut live = manager.live.locked();
                    if live.get(&run_id).is_some_and(|t| Arc::ptr_eq(t, &cancel)) {
                        live.remove(&run_id);
                    }
                }
                // A run that ended (cancelled, failed) leaves no subagent working for it.
                if let Err(e) = manager.cancel_children_of_ended(&services, &run_id).await {
                    tracing::warn!(error = %e, "cancelling the subagents of an ended run");
                }
            }
            .instrument(span)
            .await
        });
    }

    /// Cancels a run and then its subagents (the parent first, so no child's end
    /// re-queues it): a live instance is interrupted promptly; a queued or waiting
    /// run is marked cancelled directly.
    pub async fn cancel(&self, services: &Arc<Services>, run_id: &str) -> Result<RunStatus, HostError> {
        let status = self.cancel_one(services, run_id).await?;
        self.cancel_children(services, run_id).await?;
        Ok(status)
    }

    /// Cancels the unfinished subagents of `run_id` (and theirs), if it has ended.
    async fn cancel_children_of_ended(&self, services: &Arc<Services>, run_id: &str) -> Result<(), HostError> {
        let id = run_id.to_string();
        let ended = services.db.read(move |conn| runs::get(conn, &id)).await?.is_some_and(|r| r.status.is_terminal());
        if ended { self.cancel_children(services, run_id).await } else { Ok(()) }
    }

    /// Cancels every unfinished subagent below `run_id`, breadth first (iteratively:
    /// a cancel of a child cascades without recursion in async code).
    async fn cancel_children(&self, services: &Arc<Services>, run_id: &str) -> Result<(), HostError> {
        let mut below = crate::subagents::unfinished_children(services, run_id).await?;
        while let Some(child) = below.pop() {
            self.cancel_one(services, &child).await?;
            below.extend(crate::subagents::unfinished_children(services, &child).await?);
        }
        Ok(())
    }

    /// Cancels one run, leaving its subagents alone.
    async fn cancel_one(&self, services: &Arc<Services>, run_id: &str) -> Result<RunStatus, HostError> {
        let token = self.live.locked().get(run_id).cloned();
        let id = run_id.to_string();
        let run = services
            .db
            .read(move |conn| runs::get(conn, &id))
            .await?
            .ok_or_else(|| HostError::NotFound(format!("run {run_id} not found")))?;
        if run.status.is_terminal() {
            return Ok(run.status);
        }
        if let Some(token) = token {
            token.cancel();
            // Still queued behind busy slots: cancelled in the store now, so the
            // thread is free at once (its executor then finds nothing to claim).
            if execute::cancel_if_queued(services, &self.starter(services), &run).await? {
                return Ok(RunStatus::Cancelled);
            }
            // A running instance is interrupted at its next epoch tick and records
            // `cancelled` itself. A run parked a moment ago may still be listed while
            // its executor exits: it has no instance, so it is cancelled below.
            let id = run_id.to_string();
            let now = services.db.read(move |conn| runs::get(conn, &id)).await?;
            if now.is_none_or(|r| !r.status.is_parked()) {
                return Ok(RunStatus::Cancelled);
            }
        }
        let starter = self.starter(services);
        execute::finish(services, &starter, &run.deployment_id, &run.thread_id, run_id, RunStatus::Cancelled, None)
            .await?;
        Ok(RunStatus::Cancelled)
    }

    /// This manager as the domain's way to start runs.
    fn starter(&self, services: &Arc<Services>) -> Starter {
        Starter { runs: self.clone(), services: services.clone() }
    }

    /// Re-spawns every run that was queued or running when its host process stopped.
    /// Runs of another live process on the same data dir are left to it: each run is
    /// taken over with a conditional update, so two processes never both resume one.
    pub async fn recover(&self, services: &Arc<Services>) -> Result<usize, HostError> {
        let unfinished = services.db.read(runs::unfinished).await?;
        let data_dir = services.data_dir.clone();
        let orphans = tokio::task::spawn_blocking(move || {
            let mut alive = std::collections::HashMap::new();
            unfinished
                .into_iter()
                .filter(|(_, owner)| match owner {
                    None => true,
                    Some(o) => !*alive.entry(o.clone()).or_insert_with(|| crate::instance::owner_alive(&data_dir, o)),
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| HostError::Io { context: "checking run owners".into(), source: std::io::Error::other(e) })?;
        let mut resumed = 0;
        for (id, owner) in orphans {
            let run_id = id.clone();
            if !services
                .db
                .write(move |conn| runs::take_over(conn, &run_id, owner.as_deref(), crate::instance::id()))
                .await?
            {
                continue;
            }
            tracing::info!(run_id = %id, "resuming a run interrupted by a restart");
            self.spawn(services, id);
            resumed += 1;
        }
        Ok(resumed)
    }
}

impl RunManager {
    /// Cancels every unfinished run of a deployment (before it is deleted).
    pub async fn cancel_deployment(&self, services: &Arc<Services>, deployment_id: &str) -> Result<(), HostError> {
        let dep = deployment_id.to_string();
        let ids = services.db.read(move |conn| runs::active_of_deployment(conn, &dep)).await?;
        self.cancel_and_settle(services, &ids).await
    }

    /// Cancels `ids` (and their subagents) and gives their live instances a moment to
    /// observe it at their next epoch tick and record `cancelled`.
    pub async fn cancel_and_settle(&self, services: &Arc<Services>, ids: &[String]) -> Result<(), HostError> {
        for id in ids {
            self.cancel(services, id).await?;
        }
        for _ in 0..100 {
            let still = {
                let live = self.live.locked();
                ids.iter().any(|id| live.contains_key(id))
            };
            if !still {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(())
    }
}
