//! The narrow host-side traits the guest imports call: the host-side twin of the
//! harness's `Imports` trait. The import boundary (`imports/`) validates, bounds and
//! scrubs what crosses WIT; everything the host then does about it — persisting a
//! message, charging a model call, asking a human — sits behind one of these ports,
//! implemented by the domain layer above. Each port object serves one run, so it
//! already knows its deployment, thread and run; an instance holds only its ports.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_providers::{ChatMessage, Completion, ToolSpec};
use serde_json::{Map, Value};

use crate::wit::hermes::agent::approvals::Decision;
use crate::wit::hermes::agent::automations::Automation;
use crate::wit::hermes::agent::memory::MemoryEntry;
use crate::wit::hermes::agent::skills::SkillSummary;
use crate::wit::hermes::agent::subagents::Child;
use crate::wit::hermes::agent::threads::Entry;
use crate::wit::hermes::agent::types::{Message, ToolDefinition, ToolOutput};

/// An error a port can hand back to the boundary.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a port call failed: something the guest can act on (it sees the message), or
/// a failure of the host (the instance traps and the run ends with the error).
#[derive(Debug)]
pub enum PortError {
    /// The guest asked for something it may not have or that does not exist.
    Guest(String),
    /// The host failed (store down, commit failed).
    Host(BoxError),
}

impl PortError {
    /// A host failure from any error.
    pub fn host(e: impl Into<BoxError>) -> PortError {
        PortError::Host(e.into())
    }
}

/// What a port call returns.
pub type PortResult<T> = Result<T, PortError>;

/// A completion request the boundary has bounded and converted (disabled tools
/// already removed); the port picks the provider, model and output cap.
#[derive(Clone, Debug)]
pub struct ModelRequest {
    /// System prompt.
    pub system: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Tools offered to the model.
    pub tools: Vec<ToolSpec>,
    /// The guest's output cap, if it set one (the host's cap still applies).
    pub max_tokens: Option<u32>,
    /// Whether deltas become `token` events while the completion streams.
    pub stream_tokens: bool,
}

/// Why a completion did not happen.
#[derive(Debug)]
pub enum ModelFailure {
    /// The request cannot be served as sent (unknown model, bad schema).
    InvalidRequest(String),
    /// The provider failed after retries.
    Unavailable(String),
    /// The account is out of credits.
    InsufficientCredits(String),
    /// The run was cancelled (or the host is stopping) mid-call.
    Cancelled,
    /// The host failed.
    Host(BoxError),
}

/// `model`: completions, charged to the run's account, deltas streamed as events.
#[async_trait]
pub trait ModelPort: Send + Sync {
    /// One completion; every `token` event is durable before this returns.
    async fn complete(&self, request: ModelRequest) -> Result<Completion, ModelFailure>;
    /// The context window of the run's model, in tokens.
    fn context_window(&self) -> u32 {
        DEFAULT_CONTEXT_WINDOW
    }
    /// Tokens of each text for the run's model; the conservative estimate unless
    /// the port knows the model's tokenizer.
    async fn count_tokens(&self, texts: Vec<String>) -> Vec<u32> {
        hermes_providers::tokens::Tokenizer::Estimate.count(&texts)
    }
}

/// The context window assumed when nothing more is known about a model.
pub const DEFAULT_CONTEXT_WINDOW: u32 = 128_000;

/// A summary standing in for a thread's entries up to `through`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    /// The summary text.
    pub summary: String,
    /// Id of the newest entry it covers.
    pub through: String,
}

/// A message the guest appends, validated and scrubbed.
#[derive(Clone, Debug)]
pub struct Append {
    /// The message (assistant or tool role only).
    pub message: Message,
    /// The tool the guest last announced with `tool-started`, when this message is
    /// its result: the `tool_result` event names it.
    pub answered_tool: Option<String>,
}

/// `threads`: the run's transcript.
#[async_trait]
pub trait ThreadsPort: Send + Sync {
    /// The newest `limit` entries, oldest first.
    async fn history(&self, limit: u32) -> PortResult<Vec<Entry>>;
    /// Persists a message and the events announcing it; returns its id.
    async fn append(&self, append: Append) -> PortResult<String>;
    /// Records that a tool call is about to execute (so a crash never repeats it).
    async fn tool_started(&self, call_id: &str, tool: &str) -> PortResult<()>;
    /// Calls started but never answered (the previous instance died mid-call).
    async fn interrupted_calls(&self) -> PortResult<Vec<String>>;
    /// User messages sent to the thread since the run started, as model text.
    async fn take_steering(&self) -> PortResult<Vec<String>>;
    /// The thread's latest compaction.
    async fn compaction(&self) -> PortResult<Option<Compaction>> {
        Ok(None)
    }
    /// Persists a compaction (replacing the previous one) and announces it.
    async fn compact(&self, compaction: Compaction, folded: u32) -> PortResult<()> {
        let _ = (compaction, folded);
        Err(PortError::Guest("this host keeps no compactions".into()))
    }
}

/// `memory`: the deployment's observational memory.
#[async_trait]
pub trait MemoryPort: Send + Sync {
    /// The most relevant memories for `query`.
    async fn recall(&self, query: &str, limit: u32) -> PortResult<Vec<MemoryEntry>>;
    /// Stores a memory (refused with a reason when it is an instruction or a secret).
    async fn add(&self, content: &str) -> PortResult<MemoryEntry>;
    /// Replaces a memory's content.
    async fn update(&self, id: &str, content: &str) -> PortResult<MemoryEntry>;
    /// Removes a memory.
    async fn forget(&self, id: &str) -> PortResult<()>;
}

/// `mcp`: the tools the host provides beside the harness's own — the customer's MCP
/// servers and the deployment's plugins — with allowlists, `disabled_tools`,
/// approvals and secret headers enforced by the port.
#[async_trait]
pub trait McpPort: Send + Sync {
    /// Every allowed tool, namespaced `<server or plugin>__<tool>`, and one line per
    /// source that failed to list.
    async fn list_tools(&self) -> PortResult<(Vec<ToolDefinition>, Vec<String>)>;
    /// Calls a namespaced tool; `call_id` is the call the guest announced with
    /// `tool-started` (what an approval is looked up by). A refusal (unknown, not
    /// allowed, disabled, unapproved, server down) is [`PortError::Guest`].
    async fn call_tool(&self, name: &str, arguments: &str, call_id: Option<&str>) -> PortResult<ToolOutput>;
}

/// A gated call the guest asks a human about.
#[derive(Clone, Debug)]
pub struct Ask {
    /// The tool call's id.
    pub call_id: String,
    /// The tool.
    pub tool: String,
    /// Its arguments (scrubbed).
    pub arguments: String,
    /// One bounded line for the human (scrubbed).
    pub summary: String,
}

/// `approvals`: the deployment's approval policy and its durable approvals.
#[async_trait]
pub trait ApprovalsPort: Send + Sync {
    /// Whether the policy gates `tool`.
    fn requires_approval(&self, tool: &str) -> bool;
    /// Opens (or finds) the approval of a gated call and says where it stands.
    async fn request(&self, ask: Ask) -> PortResult<Decision>;
}

/// `automations`: the agent manages its own deployment's schedules.
#[async_trait]
pub trait AutomationsPort: Send + Sync {
    /// Why this run may not manage automations, if it may not.
    async fn refused(&self) -> PortResult<Option<String>>;
    /// Creates an automation.
    async fn create(&self, name: String, schedule: String, instructions: String) -> PortResult<Automation>;
    /// Every automation of the deployment.
    async fn list(&self) -> PortResult<Vec<Automation>>;
    /// Pauses or resumes one.
    async fn set_enabled(&self, id: &str, enabled: bool) -> PortResult<Automation>;
    /// Deletes one.
    async fn delete(&self, id: &str) -> PortResult<()>;
}

/// `events`: guest-defined `custom.*` events.
#[async_trait]
pub trait EventsPort: Send + Sync {
    /// Appends a checked event of the run's deployment, thread and run.
    async fn emit(&self, kind: &str, payload: Map<String, Value>) -> PortResult<()>;
}

/// `skills`: the skill index and skill files of the workspace.
#[async_trait]
pub trait SkillsPort: Send + Sync {
    /// Names, descriptions and paths of the valid skills.
    async fn list(&self) -> PortResult<Vec<SkillSummary>>;
    /// A skill's SKILL.md or another file of its folder.
    async fn read(&self, name: &str, file: Option<&str>) -> PortResult<String>;
}

/// A delegation as the subagents port receives it (checked and bounded).
#[derive(Clone, Debug)]
pub struct Delegate {
    /// The delegating tool call (one child per call id).
    pub call_id: String,
    /// The child's first user message.
    pub task: String,
    /// The only tools the child may use.
    pub tools: Option<Vec<String>>,
    /// Upper bound on the child's model turns.
    pub max_turns: Option<u32>,
}

/// `subagents`: child runs on new threads of the run's deployment.
#[async_trait]
pub trait SubagentsPort: Send + Sync {
    /// Starts the child of `delegation`, or reports the one its call id started.
    async fn delegate(&self, delegation: Delegate) -> PortResult<Child>;
}

/// The ports of one instance: exactly the interfaces its world imports.
#[derive(Clone)]
pub struct Ports {
    /// `model`.
    pub model: Arc<dyn ModelPort>,
    /// `threads`.
    pub threads: Arc<dyn ThreadsPort>,
    /// `memory`.
    pub memory: Arc<dyn MemoryPort>,
    /// `mcp`.
    pub mcp: Arc<dyn McpPort>,
    /// `approvals`.
    pub approvals: Arc<dyn ApprovalsPort>,
    /// `automations`.
    pub automations: Arc<dyn AutomationsPort>,
    /// `events`.
    pub events: Arc<dyn EventsPort>,
    /// `skills`.
    pub skills: Arc<dyn SkillsPort>,
    /// `subagents`.
    pub subagents: Arc<dyn SubagentsPort>,
}
