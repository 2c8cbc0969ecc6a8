//! The component glue: [`Imports`] over the real WIT imports, and the `harness`
//! world's export.

use hermes_guest::harness::exports::hermes::agent::agent::Guest;
use hermes_guest::harness::hermes::agent::{approvals, logging, mcp, memory, model, skills, threads};
use hermes_guest::{Message, ToolDefinition, ToolOutput};

use crate::imports::*;
use crate::{Workspace, agent_loop, dream};

/// The host, reached through the component's imports.
struct WitHost;

impl Imports for WitHost {
    fn history(&mut self, limit: u32) -> Vec<Entry> {
        threads::history(limit)
    }
    fn append(&mut self, message: &Message) -> Result<String, String> {
        threads::append(message)
    }
    fn tool_started(&mut self, call_id: &str, tool: &str) -> Result<(), String> {
        threads::tool_started(call_id, tool)
    }
    fn interrupted_calls(&mut self) -> Vec<String> {
        threads::interrupted_calls()
    }
    fn take_steering(&mut self) -> Vec<String> {
        threads::take_steering()
    }
    fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, ModelError> {
        model::complete(request)
    }
    fn list_skills(&mut self) -> Vec<SkillSummary> {
        skills::list_skills()
    }
    fn read_skill(&mut self, name: &str, file: Option<&str>) -> Result<String, String> {
        skills::read(name, file)
    }
    fn mcp_tools(&mut self) -> Result<Vec<ToolDefinition>, String> {
        mcp::list_tools()
    }
    fn mcp_call(&mut self, name: &str, arguments: &str) -> Result<ToolOutput, String> {
        mcp::call_tool(name, arguments)
    }
    fn recall(&mut self, query: &str, limit: u32) -> Result<Vec<MemoryEntry>, String> {
        memory::recall(query, limit)
    }
    fn add_memory(&mut self, content: &str) -> Result<MemoryEntry, String> {
        memory::add(content)
    }
    fn update_memory(&mut self, id: &str, content: &str) -> Result<(), String> {
        memory::update(id, content).map(|_| ())
    }
    fn forget_memory(&mut self, id: &str) -> Result<(), String> {
        memory::forget(id)
    }
    fn requires_approval(&mut self, tool: &str) -> bool {
        approvals::requires_approval(tool)
    }
    fn request_approval(&mut self, request: &ApprovalRequest) -> Result<Decision, String> {
        approvals::request(request)
    }
    fn create_automation(&mut self, name: &str, schedule: &str, instructions: &str) -> Result<Automation, String> {
        hermes_guest::harness::hermes::agent::automations::create(name, schedule, instructions)
    }
    fn list_automations(&mut self) -> Result<Vec<Automation>, String> {
        hermes_guest::harness::hermes::agent::automations::list_automations()
    }
    fn set_automation_enabled(&mut self, id: &str, enabled: bool) -> Result<Automation, String> {
        hermes_guest::harness::hermes::agent::automations::set_enabled(id, enabled)
    }
    fn delete_automation(&mut self, id: &str) -> Result<(), String> {
        hermes_guest::harness::hermes::agent::automations::delete(id)
    }
    fn log(&mut self, level: Level, message: &str) {
        logging::log(level, message)
    }
    fn emit(&mut self, event_type: &str, data: &str) -> Result<(), String> {
        hermes_guest::harness::hermes::agent::events::emit(event_type, data)
    }
    fn context_window(&mut self) -> u32 {
        model::context_window()
    }
    fn count_tokens(&mut self, texts: &[String]) -> Vec<u32> {
        model::count_tokens(texts)
    }
    fn compaction(&mut self) -> Option<Compacted> {
        threads::compaction()
    }
    fn compact(&mut self, summary: &str, through: &str, folded: u32) -> Result<(), String> {
        threads::compact(summary, through, folded)
    }
    fn delegate(&mut self, delegation: &Delegation) -> Result<Child, String> {
        hermes_guest::harness::hermes::agent::subagents::delegate(delegation)
    }
}

/// The Hermes harness, as the `agent` export.
struct Hermes;

impl Guest for Hermes {
    fn run(context: RunContext) -> Result<RunOutcome, String> {
        agent_loop::run(&mut WitHost, &Workspace::default(), &context)
    }

    fn dream(context: RunContext) -> Result<DreamReport, String> {
        dream::dream(&mut WitHost, &Workspace::default(), &context)
    }
}

hermes_guest::export_harness!(Hermes);
