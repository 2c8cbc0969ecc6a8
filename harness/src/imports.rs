//! What the loop needs from the host, as a trait: the component binds it to the WIT
//! imports, unit tests to a scripted fake.

pub use hermes_guest::harness::exports::hermes::agent::agent::{DreamReport, Features, RunContext, RunOutcome};
pub use hermes_guest::harness::hermes::agent::approvals::{ApprovalRequest, Decision};
pub use hermes_guest::harness::hermes::agent::automations::Automation;
pub use hermes_guest::harness::hermes::agent::logging::Level;
pub use hermes_guest::harness::hermes::agent::memory::MemoryEntry;
pub use hermes_guest::harness::hermes::agent::model::{Completion, CompletionRequest, ModelError, StopReason};
pub use hermes_guest::harness::hermes::agent::skills::SkillSummary;
pub use hermes_guest::harness::hermes::agent::subagents::{Child, Delegation};
pub use hermes_guest::harness::hermes::agent::threads::{Compacted, Entry};
use hermes_guest::{Message, ToolDefinition, ToolOutput};

/// The host capabilities the harness uses; one method per WIT import function.
pub trait Imports {
    /// `threads.history`: the latest `limit` entries, oldest first.
    fn history(&mut self, limit: u32) -> Vec<Entry>;
    /// `threads.append`: persists a message of this run.
    fn append(&mut self, message: &Message) -> Result<String, String>;
    /// `threads.tool-started`: records that a call is about to execute.
    fn tool_started(&mut self, call_id: &str, tool: &str) -> Result<(), String>;
    /// `threads.interrupted-calls`: calls started but never answered.
    fn interrupted_calls(&mut self) -> Vec<String>;
    /// `threads.take-steering`: user messages sent during the run (already persisted).
    fn take_steering(&mut self) -> Vec<String>;
    /// `model.complete`.
    fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, ModelError>;
    /// `skills.list-skills`.
    fn list_skills(&mut self) -> Vec<SkillSummary>;
    /// `skills.read`.
    fn read_skill(&mut self, name: &str, file: Option<&str>) -> Result<String, String>;
    /// `mcp.list-tools`.
    fn mcp_tools(&mut self) -> Result<Vec<ToolDefinition>, String>;
    /// `mcp.call-tool`.
    fn mcp_call(&mut self, name: &str, arguments: &str) -> Result<ToolOutput, String>;
    /// `memory.recall`.
    fn recall(&mut self, query: &str, limit: u32) -> Result<Vec<MemoryEntry>, String>;
    /// `memory.add`: stores an observation (the host may refuse it, saying why).
    fn add_memory(&mut self, content: &str) -> Result<MemoryEntry, String>;
    /// `memory.update`.
    fn update_memory(&mut self, id: &str, content: &str) -> Result<(), String>;
    /// `memory.forget`.
    fn forget_memory(&mut self, id: &str) -> Result<(), String>;
    /// `approvals.requires-approval`.
    fn requires_approval(&mut self, tool: &str) -> bool;
    /// `approvals.request`.
    fn request_approval(&mut self, request: &ApprovalRequest) -> Result<Decision, String>;
    /// `automations.create`.
    fn create_automation(&mut self, name: &str, schedule: &str, instructions: &str) -> Result<Automation, String>;
    /// `automations.list-automations`.
    fn list_automations(&mut self) -> Result<Vec<Automation>, String>;
    /// `automations.set-enabled`.
    fn set_automation_enabled(&mut self, id: &str, enabled: bool) -> Result<Automation, String>;
    /// `automations.delete`.
    fn delete_automation(&mut self, id: &str) -> Result<(), String>;
    /// `logging.log`.
    fn log(&mut self, level: Level, message: &str);
    /// `events.emit`: an event on the deployment's stream (`data` a JSON object).
    fn emit(&mut self, event_type: &str, data: &str) -> Result<(), String>;
    /// `model.context-window`: tokens the deployment's model holds.
    fn context_window(&mut self) -> u32;
    /// `model.count-tokens`: tokens each text takes for the deployment's model.
    fn count_tokens(&mut self, texts: &[String]) -> Vec<u32>;
    /// `threads.compaction`: the thread's latest summary of older entries.
    fn compaction(&mut self) -> Option<Compacted>;
    /// `threads.compact`: persists a new summary covering entries up to `through`.
    fn compact(&mut self, summary: &str, through: &str, folded: u32) -> Result<(), String>;
    /// `subagents.delegate`: starts (or looks up) the child run of a delegation.
    fn delegate(&mut self, delegation: &Delegation) -> Result<Child, String>;
}

/// A model error as one sentence (the run's error reason).
pub fn describe_model_error(error: &ModelError) -> String {
    match error {
        ModelError::InvalidRequest(m) => format!("model request refused: {m}"),
        ModelError::Unavailable(m) => format!("model unavailable: {m}"),
        ModelError::InsufficientCredits(m) => format!("insufficient credits: {m}"),
        ModelError::Cancelled => "cancelled".to_string(),
    }
}
