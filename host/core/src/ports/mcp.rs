//! The host-tools port: the deployment's MCP servers (through the host's connection
//! pool, which enforces their allowlists and substitutes secret headers) and its
//! plugins (a fresh instance per call). The deployment's policy is enforced here, on
//! every call, whatever the guest does: a disabled tool is refused, and a tool that
//! requires approval runs only under the call id a human approved, with the very
//! arguments they saw.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_runtime::ports::{McpPort, PortError, PortResult};
use hermes_runtime::wit::hermes::agent::types::{ToolDefinition, ToolOutput};
use hermes_runtime::{PluginCall, Runtime};
use hermes_store::Db;
use hermes_store::approvals::{self as approvals_store, ApprovalStatus};

use crate::approvals::policy;
use crate::mcp::{McpPool, Target};
use crate::plugins::Attached;
use crate::run_scope::RunScope;

/// The host's tools for one run's deployment.
pub(crate) struct ToolDesk {
    pub pool: Arc<McpPool>,
    pub target: Target,
    pub plugins: Arc<[Attached]>,
    pub runtime: Arc<Runtime>,
    pub sandbox: Option<Arc<hermes_sandbox::Sandbox>>,
    pub web: crate::web::SharedWeb,
    pub secrets: hermes_secrets::Secrets,
    pub db: Db,
    pub scope: Arc<RunScope>,
    /// The run's open `execute_tool` spans (shared with the transcript).
    pub spans: Arc<crate::trace::ToolSpans>,
}

impl ToolDesk {
    /// Refuses a call the deployment's policy forbids.
    async fn enforce(&self, name: &str, arguments: &str, call_id: Option<&str>) -> PortResult<()> {
        let spec = &self.scope.spec;
        if spec.disabled_tools.iter().any(|t| t == name) {
            return Err(PortError::Guest(format!("tool `{name}` is disabled for this deployment")));
        }
        if !self.scope.tool_allowed(name) {
            return Err(PortError::Guest(format!("tool `{name}` is not among the tools this subagent was given")));
        }
        if !policy::requires(spec, name) {
            return Ok(());
        }
        let unapproved = || {
            PortError::Guest(format!(
                "tool `{name}` needs a human's approval on this deployment and this call has none: \
                 request approval for it before calling"
            ))
        };
        let Some(call_id) = call_id else { return Err(unapproved()) };
        let (run_id, call) = (self.scope.run_id.clone(), call_id.to_string());
        let row =
            self.db.read(move |tx| approvals_store::by_call(tx, &run_id, &call)).await.map_err(PortError::host)?;
        // Approval requests are stored scrubbed; compare like with like.
        let arguments = self.scope.secrets.scrub(arguments);
        match row {
            Some(a) if a.status == ApprovalStatus::Approved && a.tool == name && a.arguments == arguments => Ok(()),
            _ => Err(unapproved()),
        }
    }
}

#[async_trait]
impl McpPort for ToolDesk {
    async fn list_tools(&self) -> PortResult<(Vec<ToolDefinition>, Vec<String>)> {
        let (mut tools, failures) = if self.target.spec.mcp_servers.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let (tools, failures) = self.pool.list_tools(&self.target).await;
            let tools = tools
                .into_iter()
                .map(|t| ToolDefinition { name: t.name, description: t.description, parameters: t.parameters })
                .collect();
            (tools, failures)
        };
        if let Some(sandbox) = &self.sandbox {
            tools.extend(sandbox.definitions().iter().cloned());
        }
        if let Some(web) = &self.web {
            tools.extend(web.definitions().iter().cloned());
        }
        for p in self.plugins.iter() {
            tools.extend(
                p.tools.iter().map(|t| ToolDefinition { name: format!("{}__{}", p.name, t.name), ..t.clone() }),
            );
        }
        Ok((tools, failures))
    }

    async fn call_tool(&self, name: &str, arguments: &str, call_id: Option<&str>) -> PortResult<ToolOutput> {
        // Under the call's `execute_tool` span, so an MCP call nests inside it.
        let span = call_id.and_then(|id| self.spans.get(id)).unwrap_or_else(tracing::Span::current);
        tracing::Instrument::instrument(self.call_tool_inner(name, arguments, call_id), span).await
    }
}

impl ToolDesk {
    async fn call_tool_inner(&self, name: &str, arguments: &str, call_id: Option<&str>) -> PortResult<ToolOutput> {
        self.enforce(name, arguments, call_id).await?;
        if let Some(sandbox) = self.sandbox.as_ref().filter(|_| hermes_sandbox::TOOLS.contains(&name)) {
            let cx = hermes_sandbox::CallContext {
                workspace: &self.scope.workspace,
                cancel: self.scope.cancel.clone(),
                shutdown: self.scope.shutdown.clone(),
            };
            let out = sandbox.call(name, arguments, cx).await;
            return Ok(out);
        }
        if crate::web::Web::handles(name) {
            let cx = crate::web::WebContext {
                allow: &self.scope.spec.egress.allow,
                secrets: &self.secrets,
                account_id: &self.scope.account_id,
                refs: &self.scope.spec.secrets,
            };
            return Ok(match &self.web {
                Some(web) => web.call(name, arguments, cx).await,
                None => ToolOutput { content: format!("{name} is not offered on this host"), is_error: true },
            });
        }
        if let Some((plugin, tool)) = self.plugins.iter().find_map(|p| p.tool_of(name).map(|t| (p, t))) {
            if !plugin.tools.iter().any(|t| t.name == tool) {
                return Err(PortError::Guest(format!(
                    "plugin `{}` offers no tool `{tool}` to this deployment",
                    plugin.name
                )));
            }
            let called = self
                .runtime
                .call_plugin(PluginCall {
                    sha256: &plugin.sha256,
                    path: &plugin.path,
                    label: &plugin.name,
                    tool,
                    arguments,
                    grants: &plugin.grants,
                    secrets: self.scope.secrets.clone(),
                    cancel: self.scope.cancel.clone(),
                    shutdown: self.scope.shutdown.clone(),
                })
                .await;
            return Ok(
                called.unwrap_or_else(|e| ToolOutput { content: format!("tool `{name}` failed: {e}"), is_error: true })
            );
        }
        match self.pool.call(&self.target, name, arguments).await {
            Ok((_server, _tool, outcome)) => Ok(ToolOutput { content: outcome.content, is_error: outcome.is_error }),
            Err(refusal) => Err(PortError::Guest(refusal)),
        }
    }
}
