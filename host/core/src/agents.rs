//! The hosted agents-and-sessions surface over the same engine: an agent version is a
//! deployment template, each (agent, user) pair owns one deployment (so its own
//! persistent workspace and memory), and a session is a thread of that deployment
//! pinned to the agent version it was created with. `always_ask` tools become the
//! approval policy, so a session waiting for a tool confirmation is a run waiting on a
//! human, durable across restarts like any.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Host, HostError};
use hermes_store::StoreError;
use hermes_store::agents::{self as store, AgentRow, SessionFilter, SessionRow};
use hermes_types::paging::Page;
use hermes_types::spec::{DeploymentSpec, McpServerSpec, SkillSpec};

/// Longest agent name, instructions and session title.
const MAX_NAME: usize = 256;
const MAX_INSTRUCTIONS: usize = 128 * 1024;
const MAX_TITLE: usize = 256;
/// Most metadata entries, and the longest key and value.
const MAX_METADATA: usize = 16;
const MAX_METADATA_KEY: usize = 64;
const MAX_METADATA_VALUE: usize = 512;
/// Longest `userId`.
const MAX_USER_ID: usize = 256;

/// Whether a tool may run without a person's confirmation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Runs without asking.
    AlwaysAllow,
    /// Waits for `user.tool_confirmation`.
    AlwaysAsk,
}

/// `{type: "always_allow" | "always_ask"}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PermissionPolicy {
    /// The policy.
    #[serde(rename = "type")]
    pub kind: PolicyKind,
}

/// The configuration of every tool of a toolset, unless a named config overrides it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolDefaults {
    /// Whether the model is offered the tools (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Default `always_allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_policy: Option<PermissionPolicy>,
}

/// The configuration of one tool of a toolset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// The tool's own name (`read_file`; an MCP server's `create_issue`).
    pub name: String,
    /// Whether the model is offered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Overrides the toolset's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_policy: Option<PermissionPolicy>,
}

/// Which tools a toolset entry configures.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolsetKind {
    /// The harness's built-in tools (files, code, web, memory, …).
    AgentToolset,
    /// The tools of one of the agent's MCP servers.
    McpToolset,
}

/// One entry of an agent's `tools`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Toolset {
    /// `agent_toolset` or `mcp_toolset`.
    #[serde(rename = "type")]
    pub kind: ToolsetKind,
    /// For `mcp_toolset`: which of `mcpServers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server_name: Option<String>,
    /// Applies to every tool of the set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<ToolDefaults>,
    /// Per-tool overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ToolConfig>,
}

/// An MCP server of an agent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentMcpServer {
    /// `url` (the only transport: Streamable HTTP).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Unique name, `[A-Za-z0-9_-]`.
    pub name: String,
    /// Streamable HTTP endpoint.
    pub url: String,
    /// Allowlist of its tools; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Extra headers; values may use `${SECRET_NAME}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// What an agent version is: the body of `POST /v1/agents`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    /// Human-readable name.
    pub name: String,
    /// What the agent is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `provider/model`; the host's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The system prompt.
    pub instructions: String,
    /// Tool sets and their permission policies.
    #[serde(default)]
    pub tools: Vec<Toolset>,
    /// The agent's MCP servers.
    #[serde(default)]
    pub mcp_servers: Vec<AgentMcpServer>,
    /// Skills installed in each user's workspace (as on a deployment).
    #[serde(default)]
    pub skills: Vec<SkillSpec>,
    /// Env-style names mapped to `sec_…` references.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// The vendor's own strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// An agent at one version, as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    /// `agt_…`
    pub id: String,
    /// Always `agent`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// This version's number (the newest unless asked for another).
    pub version: u32,
    /// The configuration of this version.
    #[serde(flatten)]
    pub config: AgentConfig,
    /// When archived (no new sessions).
    pub archived_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: when the newest version was made.
    pub updated_at: String,
}

/// A session as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// `ses_…`
    pub id: String,
    /// Always `session`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `agt_…`
    pub agent_id: String,
    /// The agent version it runs (fixed at creation).
    pub agent_version: u32,
    /// The end user scoping its memory and learned skills.
    pub user_id: Option<String>,
    /// `idle`, `running`, `requires_action` (a tool waits for confirmation) or `archived`.
    pub status: &'static str,
    /// Optional title.
    pub title: Option<String>,
    /// The vendor's own strings.
    pub metadata: BTreeMap<String, String>,
    /// The deployment of its (agent, user) pair, for the deployment surface.
    pub deployment_id: String,
    /// Its thread there.
    pub thread_id: String,
    /// RFC 3339.
    pub archived_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// `POST /v1/agents/{id}/sessions`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSession {
    /// The end user: sessions of one agent and user share a workspace and memory.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Optional title.
    #[serde(default)]
    pub title: Option<String>,
    /// The vendor's own strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Pin an older version (default the newest).
    #[serde(default)]
    pub agent_version: Option<u32>,
}

/// Which sessions a listing returns.
#[derive(Clone, Debug, Default)]
pub struct SessionQuery {
    /// Only this agent's.
    pub agent_id: Option<String>,
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only those with this status.
    pub status: Option<String>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> HostError {
    HostError::Store(StoreError::Corrupt(format!("{what}: {e}")))
}

fn check_len(param: &str, value: &str, max: usize) -> Result<(), HostError> {
    if value.len() > max {
        return Err(HostError::invalid(param, format!("`{param}` is at most {max} bytes")));
    }
    Ok(())
}

fn check_metadata(m: &BTreeMap<String, String>) -> Result<(), HostError> {
    if m.len() > MAX_METADATA {
        return Err(HostError::invalid("metadata", format!("at most {MAX_METADATA} entries")));
    }
    for (k, v) in m {
        if k.is_empty() || k.len() > MAX_METADATA_KEY || v.len() > MAX_METADATA_VALUE {
            return Err(HostError::invalid(
                &format!("metadata.{k}"),
                format!("keys are 1–{MAX_METADATA_KEY} bytes and values at most {MAX_METADATA_VALUE}"),
            ));
        }
    }
    Ok(())
}

impl AgentConfig {
    /// Checks what a deployment's validation cannot see (the toolsets against the
    /// servers, lengths); the deployment checks the rest when a session makes one.
    fn validate(&self) -> Result<(), HostError> {
        if self.name.trim().is_empty() {
            return Err(HostError::invalid("name", "`name` must not be empty"));
        }
        if self.instructions.trim().is_empty() {
            return Err(HostError::invalid("instructions", "`instructions` must not be empty"));
        }
        check_len("name", &self.name, MAX_NAME)?;
        check_len("instructions", &self.instructions, MAX_INSTRUCTIONS)?;
        check_metadata(&self.metadata)?;
        for (i, t) in self.tools.iter().enumerate() {
            match (t.kind, &t.mcp_server_name) {
                (ToolsetKind::McpToolset, None) => {
                    return Err(HostError::invalid(
                        &format!("tools[{i}].mcpServerName"),
                        "an `mcp_toolset` names one of `mcpServers`",
                    ));
                }
                (ToolsetKind::McpToolset, Some(s)) if !self.mcp_servers.iter().any(|m| &m.name == s) => {
                    return Err(HostError::invalid(
                        &format!("tools[{i}].mcpServerName"),
                        format!("no MCP server named {s:?} in `mcpServers`"),
                    ));
                }
                (ToolsetKind::AgentToolset, Some(_)) => {
                    return Err(HostError::invalid(
                        &format!("tools[{i}].mcpServerName"),
                        "only an `mcp_toolset` names an MCP server",
                    ));
                }
                _ => {}
            }
            for (j, c) in t.configs.iter().enumerate() {
                let ok = !c.name.is_empty() && c.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok {
                    return Err(HostError::invalid(
                        &format!("tools[{i}].configs[{j}].name"),
                        "a tool name of A-Z a-z 0-9 _ - .",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The deployment configuration of this version for one user: the prompt, model,
    /// servers and skills as they are, `always_ask` tools as the approval policy and
    /// disabled ones as `disabled_tools`. `builtins` are the harness's own tools.
    fn to_spec(&self, customer_id: &str, builtins: &[String]) -> DeploymentSpec {
        let mut ask = Vec::new();
        let mut disabled = Vec::new();
        for t in &self.tools {
            let default_ask = t
                .default_config
                .as_ref()
                .and_then(|d| d.permission_policy.as_ref())
                .is_some_and(|p| p.kind == PolicyKind::AlwaysAsk);
            let default_off = t.default_config.as_ref().and_then(|d| d.enabled) == Some(false);
            let asks =
                |c: &ToolConfig| c.permission_policy.as_ref().map_or(default_ask, |p| p.kind == PolicyKind::AlwaysAsk);
            let off = |c: &ToolConfig| c.enabled.map_or(default_off, |e| !e);
            match t.kind {
                ToolsetKind::AgentToolset => {
                    // Built-ins are known, so each gets its own effective policy.
                    for name in builtins {
                        let own = t.configs.iter().find(|c| &c.name == name);
                        if own.map_or(default_ask, asks) {
                            ask.push(name.clone());
                        }
                        if own.map_or(default_off, off) {
                            disabled.push(name.clone());
                        }
                    }
                }
                ToolsetKind::McpToolset => {
                    // A server's tools are known only when it answers: the default is
                    // a pattern, and the named ones are added to or exempted from it.
                    let server = t.mcp_server_name.clone().unwrap_or_default();
                    if default_ask {
                        ask.push(format!("{server}__*"));
                    }
                    for c in &t.configs {
                        let name = format!("{server}__{}", c.name);
                        match (default_ask, asks(c)) {
                            (false, true) => ask.push(name.clone()),
                            (true, false) => ask.push(format!("!{name}")),
                            _ => {}
                        }
                        if off(c) {
                            disabled.push(name);
                        }
                    }
                }
            }
        }
        let value = serde_json::json!({
            "customer_id": customer_id,
            "name": self.name,
            "model": self.model,
            "system_prompt": self.instructions,
            "mcp_servers": self.mcp_servers.iter().map(|m| McpServerSpec {
                name: m.name.clone(),
                url: m.url.clone(),
                tools: m.tools.clone(),
                headers: m.headers.clone(),
            }).collect::<Vec<_>>(),
            "skills": self.skills,
            "secrets": self.secrets,
            "disabled_tools": disabled,
            "steering": {"require_approval": ask},
        });
        // Every field above has the type the spec declares.
        serde_json::from_value(value).unwrap_or_else(|_| unreachable_spec(customer_id, &self.instructions))
    }
}

/// Never reached (the JSON above is built from typed values); a plain spec keeps the
/// function total without a panic.
fn unreachable_spec(customer_id: &str, prompt: &str) -> DeploymentSpec {
    DeploymentSpec {
        customer_id: customer_id.to_string(),
        name: "agent".into(),
        runtime: "hermes".into(),
        model: None,
        system_prompt: prompt.to_string(),
        sandbox: Default::default(),
        mcp_servers: Vec::new(),
        skills: Vec::new(),
        secrets: BTreeMap::new(),
        features: Default::default(),
        disabled_tools: Vec::new(),
        steering: Default::default(),
        plugins: Vec::new(),
        egress: Default::default(),
    }
}

fn agent_of(row: AgentRow) -> Result<Agent, HostError> {
    let config = serde_json::from_str(&row.config).map_err(|e| corrupt("agent configuration", e))?;
    Ok(Agent {
        id: row.id,
        kind: "agent",
        version: row.version,
        config,
        archived_at: row.archived_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The `customer_id` of an (agent, user) pair's deployment.
fn customer_of(agent_id: &str, user_id: Option<&str>) -> String {
    match user_id {
        Some(u) => u.to_string(),
        None => format!("{agent_id}:anonymous"),
    }
}

impl Host {
    /// The harness's built-in tools (what an `agent_toolset` configures).
    fn builtin_tools(&self) -> Vec<String> {
        crate::tools::builtin_names(self.services(), "hermes")
    }

    /// Checks that an agent version makes a valid deployment, without making one.
    async fn check_agent(&self, account_id: &str, config: &AgentConfig) -> Result<(), HostError> {
        config.validate()?;
        let spec = config.to_spec("check", &self.builtin_tools());
        crate::deployments::validate(&spec)?;
        crate::secrets::validate_refs(self.services(), account_id, &spec.secrets).await?;
        Ok(())
    }

    /// Creates an agent at version 1.
    pub async fn create_agent(&self, account_id: &str, config: AgentConfig) -> Result<Agent, HostError> {
        self.check_agent(account_id, &config).await?;
        let text = serde_json::to_string(&config).map_err(|e| corrupt("agent configuration", e))?;
        let (id, account) = (hermes_types::ids::new_id("agt"), account_id.to_string());
        let key = id.clone();
        let row = self
            .services()
            .db
            .write(move |tx| {
                store::insert(tx, &key, &account, &text, &hermes_types::ids::now())?;
                store::get(tx, &account, &key, None)?.ok_or_else(|| StoreError::NotFound(key.clone()))
            })
            .await?;
        tracing::info!(agent_id = %id, "agent created");
        agent_of(row)
    }

    /// An agent at `version` (its newest when `None`).
    pub async fn agent(&self, account_id: &str, agent_id: &str, version: Option<u32>) -> Result<Agent, HostError> {
        let (account, id) = (account_id.to_string(), agent_id.to_string());
        let row = self.services().db.read(move |tx| store::get(tx, &account, &id, version)).await?;
        let row = row.ok_or_else(|| match version {
            Some(v) => HostError::NotFound(format!("agent {agent_id} has no version {v}")),
            None => HostError::NotFound(format!("agent {agent_id} not found")),
        })?;
        agent_of(row)
    }

    /// One page of the account's agents, newest first.
    pub async fn list_agents(
        &self,
        account_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Agent>, HostError> {
        HostError::check_limit(limit)?;
        let account = account_id.to_string();
        let rows = self
            .services()
            .db
            .read(move |tx| {
                if let Some(c) = &cursor
                    && store::get(tx, &account, c, None)?.is_none()
                {
                    return Ok(None);
                }
                store::list(tx, &account, cursor.as_deref(), limit + 1).map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        let page = Page::cut(rows, limit, |r| r.id.clone(), |r| r);
        let data = page.data.into_iter().map(agent_of).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { data, next_cursor: page.next_cursor })
    }

    /// Every version of an agent, newest first.
    pub async fn agent_versions(&self, account_id: &str, agent_id: &str) -> Result<Vec<Agent>, HostError> {
        let (account, id) = (account_id.to_string(), agent_id.to_string());
        let rows = self.services().db.read(move |tx| store::versions(tx, &account, &id)).await?;
        if rows.is_empty() {
            return Err(HostError::NotFound(format!("agent {agent_id} not found")));
        }
        rows.into_iter().map(agent_of).collect()
    }

    /// Makes the next version of an agent: `patch`'s fields replace the newest
    /// version's (omitted ones kept). With `version`, the newest must be that one
    /// (a conflict otherwise), so two editors never overwrite each other unseen.
    /// Sessions keep the version they were created with.
    pub async fn update_agent(
        &self,
        account_id: &str,
        agent_id: &str,
        patch: serde_json::Map<String, Value>,
        expected_version: Option<u32>,
    ) -> Result<Agent, HostError> {
        let current = self.agent(account_id, agent_id, None).await?;
        if let Some(v) = expected_version
            && v != current.version
        {
            return Err(HostError::Conflict(format!(
                "agent {agent_id} is at version {}, not {v}; read it again and retry",
                current.version
            )));
        }
        let mut merged = serde_json::to_value(&current.config).map_err(|e| corrupt("agent configuration", e))?;
        if let Value::Object(m) = &mut merged {
            for (k, v) in patch {
                m.insert(k, v);
            }
        }
        let config: AgentConfig = hermes_types::strict::from_value(merged)
            .map_err(|e| HostError::Validation { param: e.param, message: e.message })?;
        self.check_agent(account_id, &config).await?;
        if config == current.config {
            return Ok(current);
        }
        let text = serde_json::to_string(&config).map_err(|e| corrupt("agent configuration", e))?;
        let (account, id, seen) = (account_id.to_string(), agent_id.to_string(), current.version);
        let row = self
            .services()
            .db
            .write(move |tx| {
                // Checked in the write: a concurrent update made its version first.
                let now = store::get(tx, &account, &id, None)?.ok_or_else(|| StoreError::NotFound(id.clone()))?;
                if now.version != seen {
                    return Err(StoreError::Conflict(format!(
                        "agent {id} changed meanwhile (now version {})",
                        now.version
                    )));
                }
                store::add_version(tx, &id, &text, &hermes_types::ids::now())?;
                store::get(tx, &account, &id, None)?.ok_or_else(|| StoreError::NotFound(id.clone()))
            })
            .await?;
        tracing::info!(agent_id, version = row.version, "agent updated");
        agent_of(row)
    }

    /// Archives an agent: it keeps its sessions, but makes no new ones.
    pub async fn archive_agent(&self, account_id: &str, agent_id: &str) -> Result<Agent, HostError> {
        self.agent(account_id, agent_id, None).await?;
        let id = agent_id.to_string();
        self.services().db.write(move |tx| store::archive(tx, &id, &hermes_types::ids::now())).await?;
        self.agent(account_id, agent_id, None).await
    }

    /// The deployment of (agent, user), made (or brought to `spec`) for a new session.
    async fn user_deployment(
        &self,
        account_id: &str,
        agent_id: &str,
        user_id: Option<&str>,
        spec: &DeploymentSpec,
    ) -> Result<String, HostError> {
        let (agent, key) = (agent_id.to_string(), user_id.unwrap_or_default().to_string());
        let known = self.services().db.read(move |tx| store::user_deployment(tx, &agent, &key)).await?;
        if let Some(id) = known {
            match self.deployment_in(account_id, &id).await {
                Ok(d) => {
                    // The newest session's version installs its skills and servers; older
                    // sessions keep their own configuration on their thread.
                    if d.spec != *spec {
                        let patch = serde_json::to_value(spec).map_err(|e| corrupt("deployment configuration", e))?;
                        self.patch_deployment(account_id, &id, patch).await?;
                    }
                    return Ok(id);
                }
                // Deleted through the deployment surface: the pair gets a new one.
                Err(HostError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let d = self.create_deployment_in(account_id, spec.clone()).await?;
        let (agent, key, dep) =
            (agent_id.to_string(), user_id.unwrap_or_default().to_string(), d.deployment_id.clone());
        let owner = self.services().db.write(move |tx| store::claim_user_deployment(tx, &agent, &key, &dep)).await?;
        if owner != d.deployment_id {
            // Another session made the pair's deployment first: one workspace and one
            // memory per user, so this one goes.
            self.delete_deployment(account_id, &d.deployment_id, false).await?;
        }
        Ok(owner)
    }

    /// Creates a session of an agent: a thread of the (agent, user) deployment pinned
    /// to the agent's newest version (or `agentVersion`).
    pub async fn create_session(
        &self,
        account_id: &str,
        agent_id: &str,
        new: NewSession,
    ) -> Result<Session, HostError> {
        if let Some(u) = &new.user_id {
            if u.is_empty() {
                return Err(HostError::invalid("userId", "`userId` must not be empty (omit it for no user)"));
            }
            check_len("userId", u, MAX_USER_ID)?;
        }
        if let Some(t) = &new.title {
            check_len("title", t, MAX_TITLE)?;
        }
        check_metadata(&new.metadata)?;
        let agent = self.agent(account_id, agent_id, new.agent_version).await?;
        if agent.archived_at.is_some() {
            return Err(HostError::Conflict(format!("agent {agent_id} is archived; it makes no new sessions")));
        }
        let spec = agent.config.to_spec(&customer_of(agent_id, new.user_id.as_deref()), &self.builtin_tools());
        let deployment_id = self.user_deployment(account_id, agent_id, new.user_id.as_deref(), &spec).await?;
        let thread = self.create_thread(account_id, &deployment_id, new.title.as_deref()).await?;
        let metadata = serde_json::to_string(&new.metadata).map_err(|e| corrupt("session metadata", e))?;
        let now = hermes_types::ids::now();
        let row = SessionRow {
            id: hermes_types::ids::new_id("ses"),
            account_id: account_id.to_string(),
            agent_id: agent_id.to_string(),
            agent_version: agent.version,
            user_id: new.user_id,
            deployment_id,
            thread_id: thread.thread_id,
            title: new.title,
            metadata,
            archived_at: None,
            created_at: now.clone(),
            updated_at: now,
        };
        let record = row.clone();
        self.services()
            .db
            .write(move |tx| {
                hermes_store::threads::set_spec(tx, &record.thread_id, Some(&spec))?;
                store::insert_session(tx, &record)
            })
            .await?;
        tracing::info!(session_id = %row.id, agent_id, version = row.agent_version, "session created");
        self.session_of(row).await
    }

    async fn session_of(&self, row: SessionRow) -> Result<Session, HostError> {
        let status = if row.archived_at.is_some() {
            "archived"
        } else {
            match self.thread(&row.account_id, &row.deployment_id, &row.thread_id).await {
                Ok(t) => match t.status {
                    "waiting_on_human" => "requires_action",
                    "running" => "running",
                    _ => "idle",
                },
                // Its deployment or thread was deleted through the deployment surface.
                Err(HostError::NotFound(_)) => "archived",
                Err(e) => return Err(e),
            }
        };
        let metadata = serde_json::from_str(&row.metadata).map_err(|e| corrupt("session metadata", e))?;
        Ok(Session {
            id: row.id,
            kind: "session",
            agent_id: row.agent_id,
            agent_version: row.agent_version,
            user_id: row.user_id,
            status,
            title: row.title,
            metadata,
            deployment_id: row.deployment_id,
            thread_id: row.thread_id,
            archived_at: row.archived_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    async fn session_row(&self, account_id: &str, session_id: &str) -> Result<SessionRow, HostError> {
        let (account, id) = (account_id.to_string(), session_id.to_string());
        self.services()
            .db
            .read(move |tx| store::session(tx, &account, &id))
            .await?
            .ok_or_else(|| HostError::NotFound(format!("session {session_id} not found")))
    }

    /// One session.
    pub async fn session(&self, account_id: &str, session_id: &str) -> Result<Session, HostError> {
        let row = self.session_row(account_id, session_id).await?;
        self.session_of(row).await
    }

    /// One page of the account's sessions, newest first.
    pub async fn list_sessions(
        &self,
        account_id: &str,
        query: SessionQuery,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Session>, HostError> {
        HostError::check_limit(limit)?;
        let archived = match query.status.as_deref() {
            None => None,
            Some("archived") => Some(true),
            Some("idle" | "running" | "requires_action") => Some(false),
            Some(other) => {
                return Err(HostError::invalid(
                    "status",
                    format!("unknown status {other:?}; one of idle, running, requires_action, archived"),
                ));
            }
        };
        let filter = SessionFilter { agent_id: query.agent_id, user_id: query.user_id, archived };
        let account = account_id.to_string();
        // A status other than archived is computed per session: read pages until one
        // is full of matches (bounded: a listing reads at most 20 pages).
        let mut out = Vec::new();
        let mut after = cursor;
        for _ in 0..20 {
            let (a, f, c) = (account.clone(), filter.clone(), after.clone());
            let rows = self
                .services()
                .db
                .read(move |tx| {
                    if let Some(c) = &c
                        && store::session(tx, &a, c)?.is_none()
                    {
                        return Ok(None);
                    }
                    store::sessions(tx, &a, &f, c.as_deref(), limit + 1).map(Some)
                })
                .await?
                .ok_or_else(HostError::unknown_cursor)?;
            let more = rows.len() > limit as usize;
            for row in rows.into_iter().take(limit as usize) {
                after = Some(row.id.clone());
                let s = self.session_of(row).await?;
                if query.status.as_deref().is_none_or(|want| want == s.status) {
                    out.push(s);
                    if out.len() == limit as usize {
                        let next = more.then(|| after.clone()).flatten();
                        return Ok(Page { data: out, next_cursor: next });
                    }
                }
            }
            if !more {
                return Ok(Page { data: out, next_cursor: None });
            }
        }
        Ok(Page { data: out, next_cursor: after })
    }

    /// Changes a session's title and metadata (omitted ones kept).
    pub async fn update_session(
        &self,
        account_id: &str,
        session_id: &str,
        title: Option<Option<String>>,
        metadata: Option<BTreeMap<String, String>>,
    ) -> Result<Session, HostError> {
        let row = self.session_row(account_id, session_id).await?;
        let title = match title {
            Some(t) => t,
            None => row.title.clone(),
        };
        if let Some(t) = &title {
            check_len("title", t, MAX_TITLE)?;
        }
        let metadata = match metadata {
            Some(m) => {
                check_metadata(&m)?;
                serde_json::to_string(&m).map_err(|e| corrupt("session metadata", e))?
            }
            None => row.metadata.clone(),
        };
        let id = row.id.clone();
        self.services()
            .db
            .write(move |tx| store::update_session(tx, &id, title.as_deref(), &metadata, &hermes_types::ids::now()))
            .await?;
        self.session(account_id, session_id).await
    }

    /// Archives a session: its unfinished run is cancelled and it takes no more events.
    pub async fn archive_session(&self, account_id: &str, session_id: &str) -> Result<Session, HostError> {
        let row = self.session_row(account_id, session_id).await?;
        if let Some(run_id) = self.active_run_of_thread(&row.thread_id).await? {
            self.cancel_run(&run_id).await?;
        }
        let id = row.id.clone();
        self.services().db.write(move |tx| store::archive_session(tx, &id, &hermes_types::ids::now())).await?;
        self.session(account_id, session_id).await
    }

    /// Deletes a session: its thread (cancelling its run) and its record. The (agent,
    /// user) deployment and its memory stay for the user's other sessions.
    pub async fn delete_session(&self, account_id: &str, session_id: &str) -> Result<(), HostError> {
        let row = self.session_row(account_id, session_id).await?;
        match self.delete_thread(account_id, &row.deployment_id, &row.thread_id).await {
            Ok(()) | Err(HostError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let id = row.id.clone();
        self.services().db.write(move |tx| store::delete_session(tx, &id)).await?;
        Ok(())
    }

    /// The run a thread has queued, running or waiting, if any.
    pub async fn active_run_of_thread(&self, thread_id: &str) -> Result<Option<String>, HostError> {
        let id = thread_id.to_string();
        let active = self.services().db.read(move |tx| hermes_store::runs::active_on_thread(tx, &id)).await?;
        Ok(active.map(|(run_id, _)| run_id))
    }

    /// Events of a deployment after sequence `after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        deployment_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<hermes_events::Event>, HostError> {
        Ok(self.services().hub.history(deployment_id, after, limit).await?)
    }

    /// The sequence of the `tool_call` event of call `call_id` of run `run_id`.
    pub async fn tool_call_event(
        &self,
        deployment_id: &str,
        run_id: &str,
        call_id: &str,
    ) -> Result<Option<u64>, HostError> {
        let (dep, run, call) = (deployment_id.to_string(), run_id.to_string(), call_id.to_string());
        Ok(self.services().db.read(move |tx| hermes_store::events::tool_call_sequence(tx, &dep, &run, &call)).await?)
    }

    /// Records what a session's client sent that leaves no event of its own
    /// (`user.interrupt`, `user.tool_confirmation`) in the session's thread, so its
    /// event list shows it. Only those two kinds.
    pub async fn record_session_input(
        &self,
        session: &Session,
        kind: &str,
        payload: Value,
    ) -> Result<hermes_events::Event, HostError> {
        if !matches!(kind, "user.interrupt" | "user.tool_confirmation") {
            return Err(HostError::invalid("type", format!("{kind:?} is not recorded as a session input")));
        }
        let event =
            hermes_events::NewEvent::new(kind, &session.deployment_id, payload).scoped(Some(&session.thread_id), None);
        let (_, mut events) =
            self.services().hub.commit(&session.deployment_id, move |_| Ok(((), vec![event]))).await?;
        events.pop().ok_or_else(|| corrupt("session input", "not appended"))
    }
}
