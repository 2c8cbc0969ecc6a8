//! The Tools API: the built-in tools of the Hermes harness and the deployment's MCP
//! tools, each enabled or disabled per deployment. A disabled tool is never shown to
//! the model (the host drops it from every completion request).

use std::sync::Arc;

use serde::Serialize;

use crate::HostError;
use crate::deployments::{self, Deployment};
use crate::services::Services;

/// One tool as the API lists it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ToolInfo {
    /// Name as offered to the model.
    pub name: String,
    /// `builtin`, `mcp` for a tool of one of the deployment's MCP servers, or
    /// `plugin:<plg_id>` for a plugin's.
    pub origin: String,
    /// The MCP server it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Whether the model may see and call it.
    pub enabled: bool,
}

/// The deployment's built-in tools: those its harness declares, then the host's
/// code tools (`python`, `shell`) and web tools (`web_fetch`, `web_search`) when the
/// host offers them.
fn builtins(services: &Services, d: &Deployment) -> Vec<ToolInfo> {
    builtin_names(services, &d.spec.runtime)
        .into_iter()
        .map(|name| ToolInfo {
            enabled: !d.spec.disabled_tools.contains(&name),
            name,
            origin: "builtin".into(),
            server: None,
        })
        .collect()
}

/// The names of the built-in tools a deployment on harness `runtime` has.
pub(crate) fn builtin_names(services: &Services, runtime: &str) -> Vec<String> {
    let names = services.harness_tools.get(runtime).map(Vec::as_slice).unwrap_or_default();
    let code = services.sandbox.as_ref().map(|_| hermes_sandbox::TOOLS.as_slice()).unwrap_or_default();
    let web = services.web.as_ref().map(|w| w.names()).unwrap_or_default();
    names.iter().map(String::as_str).chain(code.iter().copied()).chain(web).map(str::to_string).collect()
}

/// The built-ins, the attached plugins' tools (allowlisted, `<plugin>__<tool>`) and
/// the MCP tools (allowlisted, `<server>__<tool>`) of the servers that answer now; a
/// server that does not is left out (GET deployment says why).
pub(crate) async fn list_all(services: &Arc<Services>, d: &Deployment) -> Result<Vec<ToolInfo>, HostError> {
    let mut tools = builtins(services, d);
    let plugins = crate::plugins::attached(services, &d.account_id, &d.deployment_id, &d.spec, false).await?;
    for p in plugins {
        tools.extend(p.tools.iter().map(|t| {
            let name = format!("{}__{}", p.name, t.name);
            ToolInfo {
                enabled: !d.spec.disabled_tools.contains(&name),
                name,
                origin: format!("plugin:{}", p.id),
                server: None,
            }
        }));
    }
    if d.spec.mcp_servers.is_empty() {
        return Ok(tools);
    }
    let (mcp, _failures) = services.mcp.list_tools(&d.mcp_target()).await;
    tools.extend(mcp.into_iter().map(|t| ToolInfo {
        enabled: !d.spec.disabled_tools.contains(&t.name),
        name: t.name,
        origin: "mcp".into(),
        server: Some(t.server),
    }));
    Ok(tools)
}

/// Enables or disables one tool; applies from the next model call.
pub(crate) async fn set_enabled(
    services: &Arc<Services>,
    d: &Deployment,
    name: &str,
    enabled: bool,
) -> Result<ToolInfo, HostError> {
    let mut info = list_all(services, d)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| HostError::NotFound(format!("deployment {} has no tool named {name:?}", d.deployment_id)))?;
    let mut disabled: Vec<String> = d.spec.disabled_tools.iter().filter(|t| *t != name).cloned().collect();
    if !enabled {
        disabled.push(name.to_string());
    }
    deployments::patch(
        services,
        &d.account_id,
        &d.deployment_id,
        serde_json::json!({"disabled_tools": disabled}),
        deployments::Authority::FULL,
    )
    .await?;
    info.enabled = enabled;
    Ok(info)
}
