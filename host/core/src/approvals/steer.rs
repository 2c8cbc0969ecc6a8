//! Steer: a user message into a run, delivered at its next step — and, when the run
//! waits for a human, the human's answer that resumes it.

use serde_json::json;

use crate::handle::Core;
use crate::{HostError, RunTicket};
use hermes_events::NewEvent;
use hermes_store::StoreError;
use hermes_store::runs::{self, RunStatus};
use hermes_store::threads::{self, MessageRow, Role};

impl Core {
    /// Injects `content` into run `run_id` as steering input. Works while it is
    /// queued, running or `waiting_on_human` (where the message answers the pending
    /// approval: the gated call is not executed and the run resumes); a finished run
    /// is a conflict.
    pub async fn steer_run(
        &self,
        account_id: &str,
        deployment_id: &str,
        run_id: &str,
        content: String,
    ) -> Result<RunTicket, HostError> {
        if content.trim().is_empty() {
            return Err(HostError::invalid("content", "`content` must not be empty"));
        }
        if content.len() > hermes_types::text::MAX_TEXT {
            return Err(HostError::invalid(
                "content",
                format!("`content` is at most {} bytes", hermes_types::text::MAX_TEXT),
            ));
        }
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, rid) = (deployment_id.to_string(), run_id.to_string());
        let ((ticket, requeued), _) = self
            .services()
            .hub
            .commit(deployment_id, move |conn| {
                let run = runs::get(conn, &rid)?
                    .filter(|r| r.deployment_id == dep)
                    .ok_or_else(|| StoreError::NotFound(format!("run {rid}")))?;
                if run.status.is_terminal() {
                    return Err(StoreError::Conflict(format!(
                        "run {rid} is {}; send a message to its thread to start a new run",
                        run.status.as_str()
                    )));
                }
                let msg = MessageRow {
                    id: hermes_types::ids::new_id("msg"),
                    thread_id: run.thread_id.clone(),
                    run_id: Some(rid.clone()),
                    role: Role::User,
                    content,
                    tool_calls: Vec::new(),
                    tool_call_id: None,
                    is_error: false,
                    // Taken by the run at its next step (`threads.take-steering`).
                    delivered: false,
                    created_at: hermes_types::ids::now(),
                    attachments: Vec::new(),
                };
                threads::insert_message(conn, &msg)?;
                let requeued = super::answer(conn, &rid)?;
                let status = if requeued { RunStatus::Queued } else { run.status };
                let payload = json!({"message_id": msg.id, "role": "user", "content": msg.content, "steering": true});
                let event = NewEvent::new("message", &dep, payload).scoped(Some(&run.thread_id), Some(&rid));
                let ticket = RunTicket { run_id: rid, thread_id: run.thread_id, status: status.as_str() };
                Ok(((ticket, requeued), vec![event]))
            })
            .await?;
        // Only a run this message re-queued needs an executor: a queued or running
        // one already has its own, and a second would run it twice.
        if requeued {
            self.start_run(ticket.run_id.clone());
        }
        Ok(ticket)
    }
}
