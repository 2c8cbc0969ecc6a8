//! What a deployment is made of: the create body of the hosted API, as Rust types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The configuration a deployment is created from (the seed's create body).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DeploymentSpec {
    /// The vendor's identifier for the customer this agent serves.
    #[schema(min_length = 1)]
    pub customer_id: String,
    /// Human-readable name.
    #[schema(min_length = 1)]
    pub name: String,
    /// Harness to run: `hermes` (built in) or a harness registered on the host.
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// `provider/model`; the host's default model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The agent's system prompt.
    #[schema(min_length = 1)]
    pub system_prompt: String,
    /// Sandbox options (the Wasm sandbox is always used).
    #[serde(default)]
    pub sandbox: Sandbox,
    /// The customer's MCP servers.
    #[serde(default)]
    pub mcp_servers: Vec<McpServerSpec>,
    /// Skills installed in the workspace.
    #[serde(default)]
    pub skills: Vec<SkillSpec>,
    /// Env-style names mapped to `sec_…` references; the guest sees names only.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Feature flags.
    #[serde(default)]
    pub features: Features,
    /// Built-in tools hidden from the model.
    #[serde(default)]
    pub disabled_tools: Vec<String>,
    /// Human-in-the-loop policy (used only with `features.steering`).
    #[serde(default)]
    pub steering: Steering,
    /// Vendor tool plugins attached to the deployment (replaced whole on PATCH).
    #[serde(default)]
    pub plugins: Vec<PluginAttachment>,
    /// Where the host-made web tools (`web_fetch`) may go.
    #[serde(default, skip_serializing_if = "Egress::is_open")]
    pub egress: Egress,
}

/// Where the deployment's `web_fetch` may reach. Private and loopback addresses are
/// refused whatever it says (unless the host allows private URLs).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// Hosts `web_fetch` may reach (`api.example.com`, `api.example.com:8443`,
    /// `*.example.com`); any public host when empty. Headers may name secrets
    /// (`${NAME}`) only toward these hosts.
    #[serde(default)]
    pub allow: Vec<String>,
}

impl Egress {
    /// Whether any public host may be reached.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty()
    }
}

/// A tool plugin attached to a deployment, with what it may reach.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginAttachment {
    /// `plg_…` of a `tool-plugin` of the same account.
    pub plugin_id: String,
    /// Allowlist of the plugin's tool names (without prefix); all its tools when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Capabilities granted; the plugin gets only those it also declares.
    #[serde(default)]
    pub grants: PluginGrants,
}

/// What a deployment grants one plugin; nothing by default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginGrants {
    /// The deployment's `/workspace`, read-only or read-write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceAccess>,
    /// Hosts the plugin may reach over outgoing HTTP (`wasi:http`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
    /// String values the plugin reads through `wasi:config`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// How a plugin may use the workspace.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub enum WorkspaceAccess {
    /// Read files only.
    #[serde(rename = "read")]
    Read,
    /// Read and write.
    #[serde(rename = "read-write")]
    ReadWrite,
}

fn default_runtime() -> String {
    "hermes".into()
}

fn yes() -> bool {
    true
}

/// Sandbox options of the seed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Sandbox {
    /// Always true in effect: every deployment runs in the Wasm sandbox.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `wasm` (default) or `docker` (accepted; runs in the same Wasm sandbox).
    #[serde(default = "default_sandbox_type", rename = "type")]
    pub kind: String,
    /// Whether the workspace persists across runs.
    #[serde(default = "yes")]
    pub persistent_filesystem: bool,
}

fn default_sandbox_type() -> String {
    "wasm".into()
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox { enabled: true, kind: default_sandbox_type(), persistent_filesystem: true }
    }
}

/// One MCP server of the customer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct McpServerSpec {
    /// Unique name, `[A-Za-z0-9_-]`.
    pub name: String,
    /// Streamable HTTP endpoint.
    pub url: String,
    /// Allowlist of tool names; all tools when absent.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// Extra headers; values may use `${SECRET_NAME}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A skill and where it comes from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum SkillSpec {
    /// A SKILL.md already in (or uploaded to) the workspace.
    File {
        /// Skill name.
        name: String,
        /// Workspace-relative path of the SKILL.md.
        path: String,
    },
    /// SKILL.md text given in the request.
    Inline {
        /// Skill name; must match the frontmatter's.
        name: String,
        /// The whole SKILL.md.
        content: String,
    },
    /// A SKILL.md fetched from a URL.
    Url {
        /// Skill name; must match the frontmatter's.
        name: String,
        /// Where to fetch it.
        url: String,
    },
}

impl SkillSpec {
    /// The skill's name, whatever its source.
    pub fn name(&self) -> &str {
        match self {
            SkillSpec::File { name, .. } | SkillSpec::Inline { name, .. } | SkillSpec::Url { name, .. } => name,
        }
    }
}

/// Which tool calls wait for a human (`features.steering` must be on; off, the policy
/// is ignored and nothing waits).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Steering {
    /// Tool names or patterns (`*` matches any run of characters), e.g.
    /// `["write_file", "prism-media__generate_*"]`; default none.
    #[serde(default)]
    pub require_approval: Vec<String>,
    /// Seconds a pending approval waits before it is rejected; default none (waits
    /// for as long as it takes).
    #[serde(default)]
    pub approval_timeout_seconds: Option<u64>,
}

/// Feature flags with the seed's defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Features {
    /// Observational memory.
    #[serde(default = "yes")]
    pub memory: bool,
    /// Idle-time self-learning.
    #[serde(default)]
    pub dreaming: bool,
    /// Scheduled runs.
    #[serde(default = "yes")]
    pub automations: bool,
    /// Human-in-the-loop approvals.
    #[serde(default = "yes")]
    pub steering: bool,
    /// Filesystem events and webhooks.
    #[serde(default)]
    pub filesystem_webhooks: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features { memory: true, dreaming: false, automations: true, steering: true, filesystem_webhooks: false }
    }
}
