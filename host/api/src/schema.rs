//! The response bodies the OpenAPI document describes that no handler module owns:
//! the error body, the shared error responses, and the deployment/tool/account objects.

use serde::Serialize;
use utoipa::ToSchema;

use hermes_types::spec::{Features, McpServerSpec, Sandbox, SkillSpec};

/// The error body every failure answers with.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `validation_error`, `unauthorized`, `insufficient_credits`,
    /// `forbidden`, `not_found`, `deployment_not_ready`, `conflict`, `payload_too_large`,
    /// `invalid_skill`, `invalid_secret_ref`, `rate_limited`, `server_error`.
    pub error: String,
    /// What went wrong and how to fix it.
    pub message: String,
    /// The offending field, when one is at fault (e.g. `skills[1].content`).
    #[schema(nullable = false)]
    pub param: Option<String>,
}

/// The failures every authenticated operation can answer: 400, 401, 403 (one
/// place, so each handler lists only what is its own).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum CommonErrors {
    /// The request is invalid.
    #[response(status = 400, description = "Invalid request")]
    Invalid(ErrorBody),
    /// No valid key.
    #[response(status = 401, description = "Missing or invalid API key")]
    Unauthorized(ErrorBody),
    /// The key lacks the scope.
    #[response(status = 403, description = "The key lacks the scope")]
    Forbidden(ErrorBody),
    /// A per-tenant bound (request rate, queued runs, open event streams) is reached.
    #[response(
        status = 429,
        description = "rate_limited: retry after the `Retry-After` header's seconds",
        headers(("Retry-After" = u64, description = "Seconds to wait"))
    )]
    RateLimited(ErrorBody),
}

/// Where the agent's workspace lives inside the sandbox.
#[derive(Serialize, ToSchema)]
pub struct FilesystemInfo {
    /// Always `/workspace`.
    pub workspace_path: String,
    /// Whether it persists across runs.
    pub persistent: bool,
}

/// How to stream the deployment's events.
#[derive(Serialize, ToSchema)]
pub struct EventsInfo {
    /// Always `sse`.
    pub transport: String,
    /// The Stream Events endpoint.
    pub url: String,
}

/// A deployment as returned by create, get, list and patch.
#[derive(Serialize, ToSchema)]
pub struct DeploymentObject {
    /// `dep_…`
    pub deployment_id: String,
    /// The customer identifier you supplied.
    pub customer_id: String,
    /// Human-readable name.
    pub name: String,
    /// Agent harness running in the deployment.
    pub runtime: String,
    /// `provisioning`, `ready` or `error`.
    pub status: String,
    /// Resolved `provider/model`.
    pub model: String,
    /// Default thread for Send Message.
    pub thread_id: String,
    /// Set when `status` is `error`: `{message}`.
    pub error: Option<serde_json::Value>,
    /// Workspace location.
    pub filesystem: FilesystemInfo,
    /// Event stream location.
    pub events: EventsInfo,
    /// Non-fatal notes about the configuration.
    pub warnings: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The configuration (secret names only, never values).
    pub config: serde_json::Value,
    /// Skills: `{name, source, path|url}`.
    pub skills: Vec<serde_json::Value>,
    /// MCP servers: `{name, url, tools, headers (names only), status, error, tool_count,
    /// protocol_version}`; `status` is `connecting` (not tried yet; GET starts it in the
    /// background), `connected`, or `error` with `error.message`.
    pub mcp_servers: Vec<serde_json::Value>,
    /// Attached tool plugins, with their allowlists and grants.
    pub plugins: Vec<hermes_types::spec::PluginAttachment>,
}

/// A page of deployments.
#[derive(Serialize, ToSchema)]
pub struct DeploymentList {
    /// The deployments, newest first.
    pub data: Vec<DeploymentObject>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// Answer of DELETE.
#[derive(Serialize, ToSchema)]
pub struct DeploymentDeleted {
    /// The deleted deployment.
    pub deployment_id: String,
    /// Always `deleted`.
    pub status: String,
    /// With `?retain_filesystem=true`: where the kept workspace is and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<RetainedFilesystem>,
}

/// The workspace a deletion kept.
#[derive(Serialize, ToSchema)]
pub struct RetainedFilesystem {
    /// Always true.
    pub retained: bool,
    /// When it is removed, RFC 3339.
    pub expires_at: String,
    /// `GET` it (and its files) here until then.
    pub url: String,
}

/// A tool of a deployment.
#[derive(Serialize, ToSchema)]
pub struct ToolObject {
    /// Name as offered to the model.
    pub name: String,
    /// `builtin` or `mcp`.
    pub origin: String,
    /// Whether the model may see and call it.
    pub enabled: bool,
}

/// The tools of a deployment.
#[derive(Serialize, ToSchema)]
pub struct ToolList {
    /// Every tool.
    pub data: Vec<ToolObject>,
}

/// Multipart form of the create request.
#[derive(Serialize, ToSchema)]
pub struct DeploymentUpload {
    /// The create body as JSON text.
    pub deployment: String,
}

/// PATCH body: any subset of the create body's fields.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentPatch {
    /// Replaces the customer id.
    pub customer_id: Option<String>,
    /// Replaces the name.
    pub name: Option<String>,
    /// Replaces the runtime.
    pub runtime: Option<String>,
    /// Replaces the model.
    pub model: Option<String>,
    /// Replaces the system prompt.
    pub system_prompt: Option<String>,
    /// Replaces the sandbox options.
    pub sandbox: Option<Sandbox>,
    /// Replaces the whole list.
    pub mcp_servers: Option<Vec<McpServerSpec>>,
    /// Replaces the whole list.
    pub skills: Option<Vec<SkillSpec>>,
    /// Merged key by key; `null` removes a key.
    pub secrets: Option<std::collections::BTreeMap<String, Option<String>>>,
    /// Replaces the feature flags.
    pub features: Option<Features>,
    /// Replaces the whole list.
    pub disabled_tools: Option<Vec<String>>,
    /// Replaces the approval policy (`null` restores the default: none).
    pub steering: Option<hermes_types::spec::Steering>,
    /// Replaces the whole list of attached plugins.
    pub plugins: Option<Vec<hermes_types::spec::PluginAttachment>>,
}

/// The skills of a deployment.
#[derive(Serialize, ToSchema)]
pub struct SkillList {
    /// Declared skills first, then the agent's own.
    pub data: Vec<hermes_core::skills_api::SkillObject>,
}

/// A simple status document.
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    /// `ok` or `ready`.
    pub status: String,
}

/// The caller's account.
#[derive(Serialize, ToSchema)]
pub struct AccountObject {
    /// `acct_…`
    pub account_id: String,
    /// Credit balance.
    pub credits: i64,
    /// The calling key's scopes.
    pub scopes: Vec<String>,
}
