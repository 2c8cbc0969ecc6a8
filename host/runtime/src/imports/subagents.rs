//! `subagents`: delegating a task to a child run. The guest never blocks here: a
//! child still working makes it return `waiting`, and the host parks the run.

use super::{MAX_TEXT, bounded, for_guest};
use crate::RunState;
use crate::ports::Delegate;
use crate::wit::hermes::agent::subagents::{Child, Delegation, Host};

/// Tools one allowlist names at most.
const MAX_TOOLS: usize = 256;

impl Host for RunState {
    async fn delegate(&mut self, delegation: Delegation) -> wasmtime::Result<Result<Child, String>> {
        let tools = delegation.tools.as_deref().unwrap_or_default();
        let checked = bounded("call id", &delegation.call_id, 256)
            .and_then(|_| bounded("task", &delegation.task, MAX_TEXT))
            .and_then(|_| tools.iter().try_for_each(|t| bounded("tool name", t, 256)));
        if let Err(e) = checked {
            return Ok(Err(e));
        }
        if tools.len() > MAX_TOOLS {
            return Ok(Err(format!("a subagent is given at most {MAX_TOOLS} tools")));
        }
        if delegation.call_id.is_empty() || delegation.task.trim().is_empty() {
            return Ok(Err("a delegation needs a call id and a task".into()));
        }
        let env = self.env.clone();
        // The task becomes a persisted message: scrubbed like everything the guest writes.
        let task = env.secrets.scrub_owned(delegation.task);
        let d =
            Delegate { call_id: delegation.call_id, task, tools: delegation.tools, max_turns: delegation.max_turns };
        for_guest(env.ports.subagents.delegate(d).await)
    }
}
