//! `mcp`: the customer's MCP tools, through the host's connection pool
//! ([`crate::mcp`]). The guest names tools `<server>__<tool>`; the allowlist, the
//! secret headers and `_meta.customer_id` are the host's business. Whatever comes
//! back is scrubbed of the deployment's secret values before the guest sees it.

use super::{MAX_TEXT, bounded};
use crate::mcp::Target;
use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::mcp::Host;
use crate::runtime::wit::hermes::agent::types::{ToolDefinition, ToolOutput};

fn target(state: &RunState) -> Target {
    let env = &state.env;
    Target { deployment_id: env.deployment_id.clone(), account_id: env.account_id.clone(), spec: env.spec.clone() }
}

impl Host for RunState {
    async fn list_tools(&mut self) -> wasmtime::Result<Result<Vec<ToolDefinition>, String>> {
        if self.env.spec.mcp_servers.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let env = self.env.clone();
        let (tools, failures) = env.services.mcp.list_tools(&env.services, &target(self)).await;
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
        if self.env.spec.mcp_servers.is_empty() {
            return Ok(Err(format!("no tool named {name:?}: the deployment has no MCP servers")));
        }
        let (env, target) = (self.env.clone(), target(self));
        let called = tokio::select! {
            called = env.services.mcp.call(&env.services, &target, &name, &arguments) => called,
            _ = env.cancel.cancelled() => return Ok(Err("the run was cancelled during the MCP call".into())),
        };
        Ok(match called {
            Ok((_server, _tool, outcome)) => {
                Ok(ToolOutput { content: env.secrets.scrub_owned(outcome.content), is_error: outcome.is_error })
            }
            Err(refusal) => Err(env.secrets.scrub_owned(refusal)),
        })
    }
}
