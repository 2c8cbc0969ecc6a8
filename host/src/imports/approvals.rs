//! `approvals`: no approval policy exists on this host yet, so no tool requires one;
//! an explicit request (the agent asking a human) is refused with the reason.

use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::approvals::{ApprovalRequest, Decision, Host};

impl Host for RunState {
    async fn requires_approval(&mut self, _tool: String) -> wasmtime::Result<bool> {
        Ok(false)
    }

    async fn request(&mut self, _request: ApprovalRequest) -> wasmtime::Result<Result<Decision, String>> {
        Ok(Err("human approvals are not available on this host yet".into()))
    }
}
