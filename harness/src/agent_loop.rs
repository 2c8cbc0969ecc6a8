//! The agent loop: resume what the thread says is unfinished, then alternate model
//! turns and tool calls until the model answers.
//!
//! Every step is persisted before the next one starts (`threads.append`; the host
//! turns appends into events), so the loop can stop anywhere — a host restart, a
//! pending human approval — and a fresh instance continues from the thread.

use hermes_guest::{Message, ToolCall, ToolDefinition, ToolOutput};

use crate::context::{self, ContextInput, HISTORY_LIMIT};
use crate::imports::*;
use crate::resume;
use crate::tools::{self, Workspace};

/// Memories recalled into the system prompt at most.
const MEMORY_RECALL_LIMIT: u32 = 8;
/// Tokens left free in the window for the model's answer.
const ANSWER_RESERVE_TOKENS: u32 = 4096;

/// Tokens of a request without its messages: the system prompt and tool schemas.
fn fixed_tokens(host: &mut impl Imports, request: &CompletionRequest) -> usize {
    let mut text = request.system.clone();
    for t in &request.tools {
        text.push_str(&format!("\n{} {} {}", t.name, t.description, t.parameters));
    }
    crate::compaction::count(host, &text)
}

/// What a call interrupted by a host crash gets instead of a second execution.
pub const INTERRUPTED: &str = "interrupted by a host restart; not re-run — call again if still needed";

/// Where one tool call left the run.
enum CallFlow {
    /// Answered (result persisted); go on.
    Answered,
    /// A human must decide first: the run returns `waiting` with this approval id.
    Waiting(String),
    /// A child run works on it: once the turn's other calls are handled, the run
    /// returns `waiting` with this child run id.
    Delegated(String),
}

/// Runs (or continues) the run described by `ctx` to its outcome.
pub fn run(host: &mut impl Imports, workspace: &Workspace, ctx: &RunContext) -> Result<RunOutcome, String> {
    let history = host.history(HISTORY_LIMIT as u32);
    let progress = resume::progress(&history, &ctx.run_id);
    if let Some(answer) = progress.answered {
        return Ok(RunOutcome::Completed(answer));
    }
    if !progress.unanswered.is_empty() {
        let interrupted = host.interrupted_calls();
        if let Some(id) = handle_calls(host, workspace, ctx, &progress.unanswered, &interrupted)? {
            return Ok(RunOutcome::Waiting(id));
        }
    }

    let fixed = FixedContext::gather(host, ctx, &history);
    // The request without history is the same for every turn of the run.
    let fixed_tokens = fixed_tokens(host, &context::assemble_context(&fixed.input(ctx, &[], None)));
    let mut counts = crate::compaction::TokenCounts::default();
    let mut turns = progress.turns;
    loop {
        if turns >= ctx.max_iterations {
            return Ok(RunOutcome::Completed(format!(
                "Stopped after {turns} model turns (the deployment's limit) before a final answer."
            )));
        }
        // Steering messages are already in the thread; taking them marks them consumed
        // and the history read below includes them.
        let _steering = host.take_steering();
        let view = crate::compaction::prepare(host, fixed_tokens, ANSWER_RESERVE_TOKENS, &mut counts);
        let messages = view.messages;
        let request = context::assemble_context(&fixed.input(ctx, &messages, view.summary.as_deref()));
        let completion = host.complete(&request).map_err(|e| describe_model_error(&e))?;
        turns += 1;

        let answer = Message::assistant_with_calls(completion.content, completion.tool_calls);
        persist(host, answer.clone())?;
        if answer.tool_calls.is_empty() {
            if ctx.features.memory {
                // The last user message (steering included) and the answer: a bounded prompt.
                let user = messages.iter().rev().find(|m| m.role == hermes_guest::Role::User);
                let user = user.map(|m| m.content.as_str()).unwrap_or_default();
                crate::observe::observe(host, user, &answer.content, &fixed.memories);
            }
            return Ok(RunOutcome::Completed(answer.content));
        }
        if let Some(id) = handle_calls(host, workspace, ctx, &answer.tool_calls, &[])? {
            return Ok(RunOutcome::Waiting(id));
        }
    }
}

/// Handles a turn's calls in order; the id the run must wait on, if any. A pending
/// approval stops at once; a delegation still working does not, so the turn's other
/// calls (more delegations among them) start before the run waits for them all.
fn handle_calls(
    host: &mut impl Imports,
    workspace: &Workspace,
    ctx: &RunContext,
    calls: &[ToolCall],
    interrupted: &[String],
) -> Result<Option<String>, String> {
    let mut children = None;
    for call in calls {
        if interrupted.contains(&call.id) {
            persist(host, Message::tool_result(call.id.clone(), ToolOutput::err(INTERRUPTED)))?;
            continue;
        }
        match handle_call(host, workspace, ctx, call)? {
            CallFlow::Answered => {}
            CallFlow::Waiting(id) => return Ok(Some(id)),
            CallFlow::Delegated(id) => {
                children.get_or_insert(id);
            }
        }
    }
    Ok(children)
}

/// The parts of the context that stay the same for the whole run.
struct FixedContext {
    skills: Vec<SkillSummary>,
    memories: Vec<String>,
    mcp_tools: Vec<ToolDefinition>,
}

impl FixedContext {
    fn gather(host: &mut impl Imports, ctx: &RunContext, history: &[Entry]) -> Self {
        let memories = match resume::latest_user_text(history) {
            Some(query) if ctx.features.memory => host
                .recall(query, MEMORY_RECALL_LIMIT)
                .map(|found| found.into_iter().map(|m| m.content).collect())
                .unwrap_or_else(|e| {
                    host.log(Level::Debug, &format!("memory recall skipped: {e}"));
                    Vec::new()
                }),
            _ => Vec::new(),
        };
        let mcp_tools = host.mcp_tools().unwrap_or_else(|e| {
            host.log(Level::Warn, &format!("MCP tools unavailable: {e}"));
            Vec::new()
        });
        Self { skills: host.list_skills(), memories, mcp_tools }
    }

    fn input<'a>(&'a self, ctx: &'a RunContext, history: &'a [Message], summary: Option<&'a str>) -> ContextInput<'a> {
        ContextInput {
            system_prompt: &ctx.system_prompt,
            skills: &self.skills,
            secret_names: &ctx.secret_names,
            memories: &self.memories,
            history,
            summary,
            mcp_tools: &self.mcp_tools,
            disabled_tools: &ctx.disabled_tools,
            features: &ctx.features,
        }
    }
}

/// Gates `call` on approval when the deployment requires it, runs it, and persists its
/// result. A rejected call gets an error result; a pending one stops the run.
fn handle_call(
    host: &mut impl Imports,
    workspace: &Workspace,
    ctx: &RunContext,
    call: &ToolCall,
) -> Result<CallFlow, String> {
    if call.name == tools::ask_human::NAME && ctx.features.steering && !ctx.disabled_tools.contains(&call.name) {
        let output = match tools::ask_human::ask(host, call) {
            tools::ask_human::Asked::Waiting(approval_id) => return Ok(CallFlow::Waiting(approval_id)),
            tools::ask_human::Asked::Answered(output) => output,
        };
        persist(host, Message::tool_result(call.id.clone(), output))?;
        return Ok(CallFlow::Answered);
    }
    if host.requires_approval(&call.name) {
        let request = ApprovalRequest {
            call_id: call.id.clone(),
            tool: call.name.clone(),
            arguments: call.arguments.clone(),
            summary: summary(call),
        };
        match host.request_approval(&request) {
            Ok(Decision::Approved(_)) => {}
            Ok(Decision::Pending(approval_id)) => return Ok(CallFlow::Waiting(approval_id)),
            Ok(Decision::Rejected(comment)) => {
                let reason = match comment {
                    Some(c) if !c.trim().is_empty() => format!("not executed: rejected by a human. Comment: {c}"),
                    _ => "not executed: rejected by a human".to_string(),
                };
                persist(host, Message::tool_result(call.id.clone(), ToolOutput::err(reason)))?;
                return Ok(CallFlow::Answered);
            }
            Err(e) => {
                let output = ToolOutput::err(format!("approval could not be requested: {e}"));
                persist(host, Message::tool_result(call.id.clone(), output))?;
                return Ok(CallFlow::Answered);
            }
        }
    }
    if call.name == tools::subagents::NAME && !ctx.disabled_tools.contains(&call.name) {
        // No `tool-started`: a delegation is idempotent per call id (the host finds the
        // child again), so a crash mid-call is never an interrupted call.
        let output = match tools::subagents::delegate(host, call) {
            tools::subagents::Delegated::Waiting(child) => return Ok(CallFlow::Delegated(child)),
            tools::subagents::Delegated::Answered(output) => output,
        };
        let output = ToolOutput { content: tools::truncate(output.content, tools::MAX_OUTPUT_BYTES), ..output };
        persist(host, Message::tool_result(call.id.clone(), output))?;
        return Ok(CallFlow::Answered);
    }
    host.tool_started(&call.id, &call.name)
        .map_err(|e| format!("recording the start of tool call {}: {e}", call.id))?;
    let output = tools::execute(host, workspace, &ctx.features, &ctx.disabled_tools, call);
    persist(host, Message::tool_result(call.id.clone(), output))?;
    Ok(CallFlow::Answered)
}

/// One line a human can decide on: the tool and its (shortened) arguments.
fn summary(call: &ToolCall) -> String {
    let args: String = call.arguments.chars().take(160).collect();
    let more = if call.arguments.chars().count() > 160 { "…" } else { "" };
    format!("{} {args}{more}", call.name)
}

fn persist(host: &mut impl Imports, message: Message) -> Result<(), String> {
    host.append(&message).map(|_| ()).map_err(|e| format!("persisting a message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completed_run_stores_its_observations_and_memory_off_makes_no_call() {
        use crate::fake_host::FakeHost;
        let ws = crate::Workspace::new(std::env::temp_dir());
        let mut host = FakeHost::new("run_1", "I live in Lyon.");
        host.reply("Noted.", Vec::new()).reply(r#"{"observations":["The customer lives in Lyon."]}"#, Vec::new());
        let outcome = run(&mut host, &ws, &FakeHost::context(false)).unwrap();
        assert!(matches!(outcome, RunOutcome::Completed(ref a) if a == "Noted."));
        assert_eq!(host.added, ["The customer lives in Lyon."]);
        assert!(host.requests[1].system.starts_with(crate::observe::MARKER));
        assert!(host.requests[1].messages[0].content.contains("I live in Lyon."));

        let mut host = FakeHost::new("run_1", "I live in Lyon.");
        host.reply("Noted.", Vec::new());
        let mut ctx = FakeHost::context(false);
        ctx.features.memory = false;
        run(&mut host, &ws, &ctx).unwrap();
        assert_eq!(host.requests.len(), 1, "no extraction without features.memory");
        assert!(host.added.is_empty());
    }
}
