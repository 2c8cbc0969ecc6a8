//! `mcp`: the customer's MCP tools. This host does not connect to MCP servers yet,
//! so it says so instead of pretending: no servers → no tools; servers → an error.

use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::mcp::Host;
use crate::runtime::wit::hermes::agent::types::{ToolDefinition, ToolOutput};

const UNSUPPORTED: &str = "this host does not connect to MCP servers yet; the deployment's MCP tools are unavailable";

impl Host for RunState {
    async fn list_tools(&mut self) -> wasmtime::Result<Result<Vec<ToolDefinition>, String>> {
        if self.env.spec.mcp_servers.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn call_tool(&mut self, name: String, _arguments: String) -> wasmtime::Result<Result<ToolOutput, String>> {
        if self.env.spec.mcp_servers.is_empty() {
            return Ok(Err(format!("no MCP tool named {name:?}: the deployment has no MCP servers")));
        }
        Ok(Err(UNSUPPORTED.into()))
    }
}
