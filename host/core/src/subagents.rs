//! Subagents: a run delegates a task to a child run on a new thread of the same
//! deployment, and gets the child's final answer as the tool result.
//!
//! The parent never holds an instance while a child works. Its guest returns
//! `waiting` on a child run id and the run is parked as `waiting_on_subagents`; the
//! commit that ends its last unfinished child re-queues it, and a fresh instance
//! looks each child up again by its tool call id (one child per call), so a crash
//! anywhere resumes both sides and starts nothing twice. Usage rolls up the tree
//! (`runs::add_usage`); cancelling a run cancels its children (the run manager).

use serde_json::json;

use crate::HostError;
use crate::services::Services;
use hermes_events::NewEvent;
use hermes_runtime::RunScope;
use hermes_runtime::ports::Delegate;
use hermes_runtime::wit::hermes::agent::subagents::Child;
use hermes_store::runs::{self, ChildOf, RunRow, RunStatus};
use hermes_store::{StoreError, Tx, threads};

/// The built-in tool's name (the hosted product's).
pub(crate) const TOOL: &str = "subagents";

/// What a child is told about its situation, after the deployment's system prompt.
pub(crate) const CHILD_NOTE: &str = "You are a subagent: another agent delegated the task in the first \
message to you. No human is watching this thread. Work on the task alone with your tools, then end with \
a final answer that reports the result; that answer is all the other agent receives.";

/// Longest task shown in the parent's `subagent` event.
const TASK_PREVIEW: usize = 200;

/// Where a child stands, as the delegating guest sees it.
fn state(child: &RunRow) -> Child {
    match child.status {
        RunStatus::Completed => Child::Completed(child.output.clone().unwrap_or_default()),
        RunStatus::Error => Child::Failed(child.error.clone().unwrap_or_else(|| "it failed".into())),
        RunStatus::Cancelled => Child::Failed("it was cancelled".into()),
        _ => Child::Running(child.id.clone()),
    }
}

/// Starts the child of `d` for the run of `scope`, or reports the child its call id
/// already started. Also returns the new child's id, which the caller must spawn.
pub(crate) async fn delegate(
    services: &Services,
    scope: &RunScope,
    d: Delegate,
) -> Result<(Child, Option<String>), HostError> {
    let limits = services.config.subagents.clone();
    if !limits.enabled {
        return Err(HostError::Conflict("subagents are turned off on this host".into()));
    }
    let max_queued = services.config.tenants.max_queued_runs;
    // A child never gets more than its parent: an allowlisted parent's children are
    // held to (a subset of) its own list.
    let d = Delegate { tools: narrowed(scope.tools.as_deref(), d.tools), ..d };
    let (parent_id, dep_id, account) = (scope.run_id.clone(), scope.deployment_id.clone(), scope.account_id.clone());
    // The child's spans sit under its parent's run in the same trace.
    let trace = hermes_telemetry::traceparent();
    let (outcome, _) = services
        .hub
        .commit(&scope.deployment_id, move |conn| {
            if let Some(child) = runs::child_by_call(conn, &parent_id, &d.call_id)? {
                return Ok(((state(&child), None), Vec::new()));
            }
            let parent =
                runs::get(conn, &parent_id)?.ok_or_else(|| StoreError::NotFound(format!("run {parent_id}")))?;
            // Refusals are the model's to read: each says what bound it met.
            let depth = runs::depth(conn, &parent_id, limits.max_depth)?;
            if depth >= limits.max_depth {
                return Err(StoreError::Conflict(format!(
                    "this run is a subagent {depth} level(s) deep; subagents may be at most {} deep, so do the \
                     task yourself",
                    limits.max_depth
                )));
            }
            let started = runs::children(conn, &parent_id)?.len();
            if started >= limits.max_children as usize {
                return Err(StoreError::Conflict(format!(
                    "this run already started {started} subagents, the most one run may; finish with what they found"
                )));
            }
            if let Some(balance) = hermes_store::accounts::credits(conn, &account)?
                && balance <= 0
            {
                return Err(StoreError::InsufficientCredits(balance));
            }
            if max_queued > 0 && runs::queued_for_account(conn, &account)? >= max_queued {
                return Err(StoreError::Limited(format!(
                    "this account already has {max_queued} runs waiting for an instance slot"
                )));
            }
            let now = hermes_types::ids::now();
            let (thread_id, run_id) = (hermes_types::ids::new_id("thr"), hermes_types::ids::new_id("run"));
            let title = hermes_types::text::preview(&d.task, 80);
            threads::insert_thread(conn, &dep_id, &thread_id, Some(&title), &now)?;
            // A child works under its parent's configuration: a session pinned to an
            // agent version delegates under that version too.
            if let Some(spec) = threads::pinned_spec(conn, &parent.thread_id)? {
                threads::set_spec(conn, &thread_id, Some(&spec))?;
            }
            let of = ChildOf {
                parent_run_id: parent_id.clone(),
                call_id: d.call_id.clone(),
                tools: d.tools.clone(),
                max_turns: d.max_turns,
            };
            runs::insert(conn, &run_id, &dep_id, &thread_id, crate::instance::id(), &now, Some(&of))?;
            if let Some(tp) = &trace {
                runs::set_traceparent(conn, &run_id, tp)?;
            }
            let message = threads::MessageRow {
                id: hermes_types::ids::new_id("msg"),
                thread_id: thread_id.clone(),
                run_id: Some(run_id.clone()),
                role: threads::Role::User,
                content: d.task.clone(),
                tool_calls: Vec::new(),
                tool_call_id: None,
                is_error: false,
                delivered: true,
                created_at: now,
                attachments: Vec::new(),
            };
            threads::insert_message(conn, &message)?;
            let events = vec![
                NewEvent::new(
                    "message",
                    &dep_id,
                    json!({"message_id": message.id, "role": "user", "content": message.content,
                           "steering": false, "parent_run_id": parent_id}),
                )
                .scoped(Some(&thread_id), Some(&run_id)),
                NewEvent::new(
                    "subagent",
                    &dep_id,
                    json!({"call_id": d.call_id, "child_run_id": run_id, "child_thread_id": thread_id,
                           "status": "queued", "task": hermes_types::text::preview(&d.task, TASK_PREVIEW)}),
                )
                .scoped(Some(&parent.thread_id), Some(&parent_id)),
            ];
            tracing::info!(parent_run_id = %parent_id, child_run_id = %run_id, "subagent started");
            Ok(((Child::Running(run_id.clone()), Some(run_id)), events))
        })
        .await?;
    Ok(outcome)
}

/// The tools a child may use: those it asked for, within its parent's allowlist.
fn narrowed(parent: Option<&[String]>, asked: Option<Vec<String>>) -> Option<Vec<String>> {
    match (parent, asked) {
        (None, asked) => asked,
        (Some(p), None) => Some(p.to_vec()),
        (Some(p), Some(a)) => Some(a.into_iter().filter(|t| p.contains(t)).collect()),
    }
}

/// Where [`park`] left a run whose guest returned `waiting` on a child.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parked {
    /// `waiting_on_subagents` (with its `run_status` event): nothing holds it now.
    Waiting,
    /// Every child had already ended: continue right away.
    Ended,
    /// The guest named a run that is not a child of this one.
    Unknown,
}

/// Parks `run` as `waiting_on_subagents` — unless all its children have ended.
/// Checked and written in one transaction, and a child's end re-queues the parent in
/// its own: whichever commits second sees the other, so the parent continues once.
pub(crate) async fn park(services: &Services, run: &RunRow, child_id: &str) -> Result<Parked, HostError> {
    let (run_id, dep, thread, child_id) =
        (run.id.clone(), run.deployment_id.clone(), run.thread_id.clone(), child_id.to_string());
    let (parked, _) = services
        .hub
        .commit(&run.deployment_id, move |conn| {
            let ours = runs::get(conn, &child_id)?.is_some_and(|c| c.parent_run_id.as_deref() == Some(&run_id));
            if !ours {
                return Ok((Parked::Unknown, Vec::new()));
            }
            let working: Vec<String> = runs::children(conn, &run_id)?
                .into_iter()
                .filter(|(_, s)| !s.is_terminal())
                .map(|(id, _)| id)
                .collect();
            if working.is_empty() {
                return Ok((Parked::Ended, Vec::new()));
            }
            runs::set_status(conn, &run_id, RunStatus::WaitingOnSubagents, None, &hermes_types::ids::now())?;
            let payload = json!({"status": RunStatus::WaitingOnSubagents.as_str(), "child_run_ids": working});
            let event = NewEvent::new("run_status", &dep, payload).scoped(Some(&thread), Some(&run_id));
            Ok((Parked::Waiting, vec![event]))
        })
        .await?;
    Ok(parked)
}

/// In the commit that ends `child` (read back after its terminal status was
/// written): tells its parent, if it has one, with a `subagent` event, and re-queues
/// the parent when it waits and this was its last unfinished child. Returns the
/// events and the parent to spawn.
pub(crate) fn ended(conn: &Tx<'_>, child: &RunRow) -> Result<(Vec<NewEvent>, Option<String>), StoreError> {
    let Some(parent_id) = child.parent_run_id.clone() else { return Ok((Vec::new(), None)) };
    let Some(parent) = runs::get(conn, &parent_id)? else { return Ok((Vec::new(), None)) };
    let mut payload = json!({"child_run_id": child.id, "child_thread_id": child.thread_id,
                             "status": child.status.as_str()});
    if let Some(e) = &child.error {
        payload["error"] = json!(e);
    }
    let event =
        NewEvent::new("subagent", &parent.deployment_id, payload).scoped(Some(&parent.thread_id), Some(&parent.id));
    let last = runs::children(conn, &parent_id)?.iter().all(|(_, s)| s.is_terminal());
    let wake = (last && runs::requeue_after_children(conn, &parent_id, crate::instance::id())?).then_some(parent_id);
    Ok((vec![event], wake))
}

/// The unfinished children of `run_id`, to cancel with it.
pub(crate) async fn unfinished_children(services: &Services, run_id: &str) -> Result<Vec<String>, HostError> {
    let id = run_id.to_string();
    let children = services.db.read(move |conn| runs::children(conn, &id)).await?;
    Ok(children.into_iter().filter(|(_, s)| !s.is_terminal()).map(|(id, _)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::narrowed;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_child_never_gets_a_tool_its_parent_lacks() {
        assert_eq!(narrowed(None, None), None, "no lists: everything the deployment has");
        assert_eq!(narrowed(None, Some(list(&["a"]))), Some(list(&["a"])));
        let parent = list(&["a", "b"]);
        assert_eq!(narrowed(Some(&parent), None), Some(parent.clone()), "inherits the parent's list");
        assert_eq!(narrowed(Some(&parent), Some(list(&["b", "shell"]))), Some(list(&["b"])));
    }
}
