//! The MCP port: the deployment's MCP servers through the host's connection pool,
//! which enforces the allowlist and substitutes secret headers.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_runtime::ports::{McpPort, PortError, PortResult};
use hermes_runtime::wit::hermes::agent::types::{ToolDefinition, ToolOutput};

use crate::mcp::{McpPool, Target};

/// The MCP tools of one run's deployment.
pub(crate) struct McpDesk {
    pub pool: Arc<McpPool>,
    pub target: Target,
}

#[async_trait]
impl McpPort for McpDesk {
    async fn list_tools(&self) -> PortResult<(Vec<ToolDefinition>, Vec<String>)> {
        let (tools, failures) = self.pool.list_tools(&self.target).await;
        let tools = tools
            .into_iter()
            .map(|t| ToolDefinition { name: t.name, description: t.description, parameters: t.parameters })
            .collect();
        Ok((tools, failures))
    }

    async fn call_tool(&self, name: &str, arguments: &str) -> PortResult<ToolOutput> {
        match self.pool.call(&self.target, name, arguments).await {
            Ok((_server, _tool, outcome)) => Ok(ToolOutput { content: outcome.content, is_error: outcome.is_error }),
            Err(refusal) => Err(PortError::Guest(refusal)),
        }
    }
}
