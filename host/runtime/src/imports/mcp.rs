//! `mcp`: the host's tools — the code tools, the customer's MCP servers and the
//! deployment's plugins —
//! through the run's port. The guest names tools `<server or plugin>__<tool>`; the
//! allowlists, `disabled_tools`, approvals, secret headers and `_meta.customer_id`
//! are the port's business. Whatever comes back is scrubbed of
//! the deployment's secret values before the guest sees it.

use super::{MAX_TEXT, bounded, trap};
use crate::RunState;
use crate::ports::PortError;
use crate::wit::hermes::agent::mcp::Host;
use crate::wit::hermes::agent::types::{ToolDefinition, ToolOutput};

impl Host for RunState {
    async fn list_tools(&mut self) -> wasmtime::Result<Result<Vec<ToolDefinition>, String>> {
        let env = self.env.clone();
        let (tools, failures) = env.ports.mcp.list_tools().await.map_err(trap)?;
        for failure in &failures {
            tracing::warn!(deployment = %env.deployment_id, run = %env.run_id, "{}", env.secrets.scrub(failure));
        }
        if tools.is_empty() && !failures.is_empty() {
            return Ok(Err(env.secrets.scrub_owned(failures.join("; "))));
        }
        Ok(Ok(tools
            .into_iter()
            .map(|t| ToolDefinition {
                name: t.name,
                description: env.secrets.scrub_owned(t.description),
                parameters: t.parameters,
            })
            .collect()))
    }

    async fn call_tool(&mut self, name: String, arguments: String) -> wasmtime::Result<Result<ToolOutput, String>> {
        if let Err(e) = bounded("tool name", &name, 256).and_then(|_| bounded("tool arguments", &arguments, MAX_TEXT)) {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        // The call the guest announced last, if it announced this tool: approvals are
        // looked up by it.
        let call_id = self.started_call.as_ref().filter(|(_, tool)| *tool == name).map(|(id, _)| id.clone());
        let called = tokio::select! {
            called = env.ports.mcp.call_tool(&name, &arguments, call_id.as_deref()) => called,
            _ = env.cancel.cancelled() => return Ok(Err("the run was cancelled during the tool call".into())),
        };
        match called {
            Ok(out) => Ok(Ok(ToolOutput { content: env.secrets.scrub_owned(out.content), is_error: out.is_error })),
            Err(PortError::Guest(refusal)) => Ok(Err(env.secrets.scrub_owned(refusal))),
            Err(e) => Err(trap(e)),
        }
    }
}
