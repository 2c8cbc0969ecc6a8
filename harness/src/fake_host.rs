//! A scripted, in-memory host for the loop's unit tests.

use std::collections::{HashMap, VecDeque};

use hermes_guest::{Message, ToolCall, ToolDefinition, ToolOutput, Usage};

use crate::imports::*;

pub struct FakeHost {
    pub run_id: String,
    pub thread: Vec<Entry>,
    pub replies: VecDeque<Result<Completion, ModelError>>,
    pub requests: Vec<CompletionRequest>,
    pub approvals: HashMap<String, Decision>,
    pub interrupted: Vec<String>,
    pub started: Vec<String>,
    pub memories: Result<Vec<MemoryEntry>, String>,
    /// Contents stored through `memory.add`.
    pub added: Vec<String>,
    /// `(id, content)` of each `memory.update`.
    pub updated: Vec<(String, String)>,
    /// Ids passed to `memory.forget`.
    pub forgotten: Vec<String>,
    /// `(type, data)` of each `events.emit`.
    pub emitted: Vec<(String, String)>,
    /// What `model.context-window` answers.
    pub window: u32,
    /// The thread's compaction, as `threads.compact` left it.
    pub compacted: Option<Compacted>,
    /// What `subagents.delegate` answers per call id (absent: a child still running).
    pub children: HashMap<String, Child>,
    /// Every delegation asked for.
    pub delegations: Vec<Delegation>,
    /// Texts counted through `model.count-tokens`.
    pub counted: usize,
}

impl FakeHost {
    pub fn new(run_id: &str, user: &str) -> Self {
        let mut host = Self {
            run_id: run_id.into(),
            thread: Vec::new(),
            replies: VecDeque::new(),
            requests: Vec::new(),
            approvals: HashMap::new(),
            interrupted: Vec::new(),
            started: Vec::new(),
            memories: Err("memory disabled".into()),
            added: Vec::new(),
            updated: Vec::new(),
            forgotten: Vec::new(),
            emitted: Vec::new(),
            window: 128_000,
            compacted: None,
            children: HashMap::new(),
            delegations: Vec::new(),
            counted: 0,
        };
        host.push(None, Message::user(user));
        host
    }

    pub fn push(&mut self, run: Option<&str>, message: Message) {
        let id = format!("msg_{}", self.thread.len());
        self.thread.push(Entry { id, run_id: run.map(str::to_string), message });
    }

    pub fn reply(&mut self, text: &str, calls: Vec<ToolCall>) -> &mut Self {
        let stop_reason = if calls.is_empty() { StopReason::EndTurn } else { StopReason::ToolUse };
        self.replies.push_back(Ok(Completion {
            content: text.into(),
            tool_calls: calls,
            stop_reason,
            usage: Usage { input_tokens: 1, output_tokens: 1 },
        }));
        self
    }

    pub fn messages(&self) -> Vec<&Message> {
        self.thread.iter().map(|e| &e.message).collect()
    }

    pub fn context(resumed: bool) -> RunContext {
        RunContext {
            deployment_id: "dep_1".into(),
            customer_id: "cus_1".into(),
            thread_id: "thr_1".into(),
            run_id: "run_1".into(),
            system_prompt: "You are helpful.".into(),
            secret_names: vec!["CRM_TOKEN".into()],
            features: Features { memory: true, dreaming: false, automations: false, steering: true },
            disabled_tools: Vec::new(),
            max_iterations: 8,
            resumed,
        }
    }
}

impl Imports for FakeHost {
    fn history(&mut self, limit: u32) -> Vec<Entry> {
        let skip = self.thread.len().saturating_sub(limit as usize);
        self.thread[skip..].to_vec()
    }
    fn append(&mut self, message: &Message) -> Result<String, String> {
        let run = self.run_id.clone();
        self.push(Some(&run), message.clone());
        Ok(format!("msg_{}", self.thread.len() - 1))
    }
    fn tool_started(&mut self, call_id: &str, _tool: &str) -> Result<(), String> {
        self.started.push(call_id.into());
        Ok(())
    }
    fn interrupted_calls(&mut self) -> Vec<String> {
        self.interrupted.clone()
    }
    fn take_steering(&mut self) -> Vec<String> {
        Vec::new()
    }
    fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, ModelError> {
        self.requests.push(request.clone());
        self.replies.pop_front().unwrap_or_else(|| Err(ModelError::Unavailable("no scripted reply".into())))
    }
    fn list_skills(&mut self) -> Vec<SkillSummary> {
        vec![SkillSummary {
            name: "release-notes".into(),
            description: "Write release notes.".into(),
            path: ".hermes/skills/release-notes/SKILL.md".into(),
        }]
    }
    fn read_skill(&mut self, name: &str, _file: Option<&str>) -> Result<String, String> {
        Ok(format!("# {name}"))
    }
    fn mcp_tools(&mut self) -> Result<Vec<ToolDefinition>, String> {
        Err("no MCP servers".into())
    }
    fn mcp_call(&mut self, name: &str, _arguments: &str) -> Result<ToolOutput, String> {
        Err(format!("unknown tool `{name}`"))
    }
    fn recall(&mut self, _query: &str, _limit: u32) -> Result<Vec<MemoryEntry>, String> {
        self.memories.clone()
    }
    fn add_memory(&mut self, content: &str) -> Result<MemoryEntry, String> {
        self.added.push(content.to_string());
        Ok(MemoryEntry {
            id: format!("mem_{}", self.added.len()),
            content: content.to_string(),
            source: "agent".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
        })
    }
    fn update_memory(&mut self, id: &str, content: &str) -> Result<(), String> {
        self.updated.push((id.into(), content.into()));
        Ok(())
    }
    fn forget_memory(&mut self, id: &str) -> Result<(), String> {
        self.forgotten.push(id.into());
        Ok(())
    }
    fn requires_approval(&mut self, tool: &str) -> bool {
        self.approvals.contains_key(tool)
    }
    fn request_approval(&mut self, request: &ApprovalRequest) -> Result<Decision, String> {
        self.approvals.get(&request.tool).cloned().ok_or_else(|| "no policy".into())
    }
    fn create_automation(&mut self, name: &str, schedule: &str, instructions: &str) -> Result<Automation, String> {
        Ok(Automation {
            id: "auto_fake".into(),
            name: name.into(),
            schedule: schedule.into(),
            instructions: instructions.into(),
            enabled: true,
            next_run_at: None,
        })
    }
    fn list_automations(&mut self) -> Result<Vec<Automation>, String> {
        Ok(Vec::new())
    }
    fn set_automation_enabled(&mut self, id: &str, _enabled: bool) -> Result<Automation, String> {
        Err(format!("automation {id} not found"))
    }
    fn delete_automation(&mut self, id: &str) -> Result<(), String> {
        Err(format!("automation {id} not found"))
    }
    fn log(&mut self, _level: Level, _message: &str) {}
    fn emit(&mut self, event_type: &str, data: &str) -> Result<(), String> {
        self.emitted.push((event_type.into(), data.into()));
        Ok(())
    }
    fn context_window(&mut self) -> u32 {
        self.window
    }
    fn compaction(&mut self) -> Option<Compacted> {
        self.compacted.clone()
    }
    fn compact(&mut self, summary: &str, through: &str, _folded: u32) -> Result<(), String> {
        if !self.thread.iter().any(|e| e.id == through) {
            return Err(format!("no entry {through}"));
        }
        self.compacted = Some(Compacted { summary: summary.into(), through: through.into() });
        Ok(())
    }
    fn delegate(&mut self, delegation: &Delegation) -> Result<Child, String> {
        self.delegations.push(delegation.clone());
        let id = &delegation.call_id;
        Ok(self.children.get(id).cloned().unwrap_or_else(|| Child::Running(format!("run_child_{id}"))))
    }
    fn count_tokens(&mut self, texts: &[String]) -> Vec<u32> {
        // The host's fallback: the conservative estimate.
        self.counted += texts.len();
        texts.iter().map(|t| t.len().div_ceil(3) as u32).collect()
    }
}
