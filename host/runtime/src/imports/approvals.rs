//! `approvals`: the deployment's approval policy, and opening (or looking up) the
//! approval of a gated call. The guest never blocks here: a pending decision makes it
//! return `waiting`, and the host parks the run without an instance.

use super::{MAX_TEXT, bounded, for_guest, preview};
use crate::RunState;
use crate::ports::Ask;
use crate::wit::hermes::agent::approvals::{ApprovalRequest, Decision, Host};

/// Longest summary kept (one line a human reads).
const MAX_SUMMARY: usize = 500;

impl Host for RunState {
    async fn requires_approval(&mut self, tool: String) -> wasmtime::Result<bool> {
        Ok(self.env.ports.approvals.requires_approval(&tool))
    }

    async fn request(&mut self, request: ApprovalRequest) -> wasmtime::Result<Result<Decision, String>> {
        if !self.env.spec.features.steering {
            return Ok(Err("steering is off for this deployment: no human can be asked".into()));
        }
        let checked = bounded("call id", &request.call_id, 256)
            .and_then(|_| bounded("tool", &request.tool, 256))
            .and_then(|_| bounded("arguments", &request.arguments, MAX_TEXT));
        if let Err(e) = checked {
            return Ok(Err(e));
        }
        if request.call_id.is_empty() || request.tool.is_empty() {
            return Ok(Err("an approval request needs a call id and a tool name".into()));
        }
        let env = self.env.clone();
        // One line, bounded, and — like everything the guest produces — scrubbed.
        let line = request.summary.split_whitespace().collect::<Vec<_>>().join(" ");
        let summary = env.secrets.scrub_owned(preview(&line, MAX_SUMMARY));
        let ask = Ask {
            call_id: request.call_id,
            tool: request.tool,
            arguments: env.secrets.scrub_owned(request.arguments),
            summary,
        };
        for_guest(env.ports.approvals.request(ask).await)
    }
}
