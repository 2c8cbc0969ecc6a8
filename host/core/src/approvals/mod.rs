//! Steering: human approvals of tool calls, and human input into runs.
//!
//! A gated call (the deployment's `steering.require_approval` policy, or the agent's
//! own `ask_human`) opens an approval and emits `steering_request`; the guest returns
//! `waiting` and the run is parked as `waiting_on_human` holding no instance. A
//! decision, a message to the thread, or the policy's timeout closes the approval and
//! re-queues the run; a fresh instance asks again for the same call and gets the
//! decision. Every transition is one transaction, so no crash can lose or double one.

pub mod policy;
mod service;
mod steer;
pub(crate) mod sweeper;

use serde::Serialize;
use serde_json::{Value, json};

use crate::HostError;
use crate::run_scope::RunScope;
use crate::services::Services;
use hermes_events::EventHub;
use hermes_events::NewEvent;
use hermes_runtime::ports::Ask;
use hermes_store::approvals::{self as store, ApprovalRow, ApprovalStatus};
use hermes_store::runs::{self, RunRow, RunStatus};
use hermes_store::{StoreError, approvals};

pub use service::Verdict;

/// Comment on approvals closed because a message to the thread answered the run.
pub const SUPERSEDED: &str = "the human answered with a message instead of approving (it follows in the conversation)";
/// Comment on approvals closed because their run ended.
const RUN_ENDED: &str = "the run ended before a decision";
/// Comment on approvals the timeout closed.
const EXPIRED: &str = "no human decided before the approval's timeout; it was rejected automatically";

/// An approval as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Approval {
    /// `apr_…`
    pub approval_id: String,
    /// `dep_…`
    pub deployment_id: String,
    /// The waiting run's thread.
    pub thread_id: String,
    /// The waiting run.
    pub run_id: String,
    /// The tool call it gates.
    pub call_id: String,
    /// Tool name (`ask_human` when the agent asked itself).
    pub tool: String,
    /// The call's arguments (a JSON object).
    #[schema(value_type = Object)]
    pub arguments: Value,
    /// One line a human can decide on.
    pub summary: String,
    /// `pending` | `approved` | `rejected` | `superseded` | `expired` | `cancelled`.
    #[schema(value_type = String)]
    pub status: ApprovalStatus,
    /// The human's comment, or why it closed without a decision.
    pub comment: Option<String>,
    /// RFC 3339: when a pending approval is rejected automatically, if the policy
    /// has a timeout.
    pub expires_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once closed.
    pub decided_at: Option<String>,
}

impl Approval {
    pub(crate) fn from_row(r: ApprovalRow) -> Approval {
        Approval {
            arguments: arguments_json(&r.arguments),
            expires_at: r
                .expires_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            approval_id: r.id,
            deployment_id: r.deployment_id,
            thread_id: r.thread_id,
            run_id: r.run_id,
            call_id: r.call_id,
            tool: r.tool,
            summary: r.summary,
            status: r.status,
            comment: r.comment,
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

/// Arguments as JSON when they parse (the model's text otherwise).
fn arguments_json(args: &str) -> Value {
    serde_json::from_str(args).unwrap_or_else(|_| Value::String(args.to_string()))
}

/// Opens the approval for `ask` in the run of `env`, or returns the one already
/// opened for the same call (a fresh instance asking again after a decision or a
/// restart). A new approval is announced with `steering_request` in the same commit.
pub(crate) async fn open(hub: &EventHub, env: &RunScope, ask: Ask) -> Result<ApprovalRow, HostError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let timeout = env.spec.steering.approval_timeout_seconds;
    let row = ApprovalRow {
        id: hermes_types::ids::new_id("apr"),
        deployment_id: env.deployment_id.clone(),
        thread_id: env.thread_id.clone(),
        run_id: env.run_id.clone(),
        call_id: ask.call_id,
        tool: ask.tool,
        arguments: ask.arguments,
        summary: ask.summary,
        status: ApprovalStatus::Pending,
        comment: None,
        expires_at: timeout.map(|s| now_ms.saturating_add(i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000))),
        created_at: hermes_types::ids::now(),
        decided_at: None,
    };
    let (row, _) = hub
        .commit(&env.deployment_id, move |conn| {
            if let Some(existing) = store::by_call(conn, &row.run_id, &row.call_id)? {
                // The same call asked again (a fresh instance): its approval. Another
                // call under a reused id never inherits it.
                if existing.tool != row.tool || existing.arguments != row.arguments {
                    return Err(StoreError::Conflict(format!(
                        "tool call id {} was already used in this run for another call ({}); not executed",
                        row.call_id, existing.tool
                    )));
                }
                return Ok((existing, Vec::new()));
            }
            store::insert(conn, &row)?;
            let approval = Approval::from_row(row.clone());
            let mut payload = json!({
                "run_id": row.run_id,
                "approval_id": row.id,
                "summary": row.summary,
                "tool": row.tool,
                "arguments": approval.arguments,
            });
            if let Some(at) = approval.expires_at {
                payload["expires_at"] = json!(at);
            }
            let event = NewEvent::new("steering_request", &row.deployment_id, payload)
                .scoped(Some(&row.thread_id), Some(&row.run_id));
            tracing::info!(approval_id = %row.id, run_id = %row.run_id, tool = %row.tool, "approval requested");
            Ok((row, vec![event]))
        })
        .await?;
    Ok(row)
}

/// Where [`park`] left a run whose guest returned `waiting`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parked {
    /// `waiting_on_human` (with its `run_status` event): nothing holds it now.
    Waiting,
    /// The approval was closed while the guest was returning: continue right away.
    Decided,
    /// The guest named an approval this run does not have.
    Unknown,
}

/// Parks `run` as `waiting_on_human` on `approval_id` — unless the approval is no
/// longer pending. Checked and written in one transaction: a decision committed
/// before it is seen here; one committed after it finds the run waiting and
/// re-queues it. Either way the run continues exactly once.
pub(crate) async fn park(services: &Services, run: &RunRow, approval_id: &str) -> Result<Parked, HostError> {
    let (run_id, dep, thread, aid) =
        (run.id.clone(), run.deployment_id.clone(), run.thread_id.clone(), approval_id.to_string());
    let (parked, _) = services
        .hub
        .commit(&run.deployment_id, move |conn| match store::is_pending(conn, &run_id, &aid)? {
            None => Ok((Parked::Unknown, Vec::new())),
            Some(false) => Ok((Parked::Decided, Vec::new())),
            Some(true) => {
                runs::set_status(conn, &run_id, RunStatus::WaitingOnHuman, None, &hermes_types::ids::now())?;
                let payload = json!({"status": RunStatus::WaitingOnHuman.as_str(), "approval_id": aid});
                let event = NewEvent::new("run_status", &dep, payload).scoped(Some(&thread), Some(&run_id));
                Ok((Parked::Waiting, vec![event]))
            }
        })
        .await?;
    Ok(parked)
}

/// Closes one pending approval with `status` and re-queues its waiting run: `None`
/// when it was no longer pending, else whether the caller must spawn the run. The
/// one path by which a decision (a human's or a timeout's) resumes a run.
pub(crate) fn close_and_requeue(
    conn: &hermes_store::Tx<'_>,
    approval_id: &str,
    run_id: &str,
    status: ApprovalStatus,
    comment: Option<&str>,
) -> Result<Option<bool>, StoreError> {
    if !approvals::close(conn, approval_id, status, comment, &hermes_types::ids::now())? {
        return Ok(None);
    }
    Ok(Some(runs::requeue_waiting(conn, run_id, crate::instance::id())?))
}

/// A human message reached `run_id` (a message to its thread or a steer): every
/// pending approval of the run is closed as superseded — the gated calls are not
/// executed — and a waiting run is re-queued. True when the caller must spawn it.
pub(crate) fn answer(conn: &hermes_store::Tx<'_>, run_id: &str) -> Result<bool, StoreError> {
    approvals::close_for_run(conn, run_id, ApprovalStatus::Superseded, Some(SUPERSEDED), &hermes_types::ids::now())?;
    runs::requeue_waiting(conn, run_id, crate::instance::id())
}

/// Closes the pending approvals of a run that reached a terminal status.
pub(crate) fn run_ended(conn: &hermes_store::Tx<'_>, run_id: &str) -> Result<(), StoreError> {
    approvals::close_for_run(conn, run_id, ApprovalStatus::Cancelled, Some(RUN_ENDED), &hermes_types::ids::now())?;
    Ok(())
}
