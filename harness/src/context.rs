//! Context assembly: what one model call sees. Pure functions over plain data, so the
//! cost can be measured natively and in wasm (`tests/bench-guest`).
//!
//! The fixed part (scaffolding + built-in tool schemas) is kept small: skills appear as
//! one line each (name + description) until the model opens one with `skill_view`,
//! secrets by name only, memory as a handful of short recalled lines.

use std::collections::{HashMap, HashSet};

use hermes_guest::{Message, Role, ToolDefinition};

use crate::imports::{CompletionRequest, Features, SkillSummary};
use crate::tools;

/// Thread entries sent to the model at most.
pub const HISTORY_LIMIT: usize = 200;
/// Skills listed in the index at most.
const MAX_SKILLS: usize = 50;
/// Characters of a skill description shown in the index.
const MAX_SKILL_DESCRIPTION: usize = 160;
/// Characters of one recalled memory shown.
const MAX_MEMORY_CHARS: usize = 300;

/// Everything a model call is assembled from.
#[derive(Debug, Clone, Copy)]
pub struct ContextInput<'a> {
    /// The deployment's own system prompt.
    pub system_prompt: &'a str,
    /// The skill index (names and descriptions).
    pub skills: &'a [SkillSummary],
    /// Names of the deployment's secrets (never values).
    pub secret_names: &'a [String],
    /// Recalled memories, most relevant first.
    pub memories: &'a [String],
    /// The thread, oldest first (it is bounded to [`HISTORY_LIMIT`] here).
    pub history: &'a [Message],
    /// The summary standing in for the thread's older entries (compaction).
    pub summary: Option<&'a str>,
    /// Tools from the deployment's MCP servers.
    pub mcp_tools: &'a [ToolDefinition],
    /// Built-in tools the deployment disabled.
    pub disabled_tools: &'a [String],
    /// The deployment's features (some built-in tools come with a feature).
    pub features: &'a Features,
}

/// Builds the completion request for the next model turn.
pub fn assemble_context(input: &ContextInput<'_>) -> CompletionRequest {
    let mut tools = tools::builtin_definitions(input.features, input.disabled_tools);
    tools.extend(input.mcp_tools.iter().filter(|t| !input.disabled_tools.contains(&t.name)).cloned());
    CompletionRequest {
        system: system_prompt(input),
        messages: transcript(input.history),
        tools,
        max_tokens: None,
        stream_tokens: true,
    }
}

/// The system prompt: the deployment's, then the harness's sections.
pub fn system_prompt(input: &ContextInput<'_>) -> String {
    let mut s = String::with_capacity(input.system_prompt.len() + 1024);
    s.push_str(input.system_prompt.trim_end());
    s.push_str("\n\n## Workspace\nYour persistent files are in /workspace; tool paths are relative to it.");
    if !input.skills.is_empty() {
        s.push_str("\n\n## Skills\nOpen a skill with skill_view before using it.\n");
        for skill in input.skills.iter().take(MAX_SKILLS) {
            s.push_str("- ");
            s.push_str(&skill.name);
            s.push_str(": ");
            push_clipped(&mut s, &skill.description, MAX_SKILL_DESCRIPTION);
            s.push('\n');
        }
        if input.skills.len() > MAX_SKILLS {
            s.push_str(&format!("(+{} more)\n", input.skills.len() - MAX_SKILLS));
        }
        let offered = |name: &str| {
            input.mcp_tools.iter().any(|t| t.name == name) && !input.disabled_tools.iter().any(|t| t == name)
        };
        if offered("shell") {
            s.push_str(
                "A skill's files are in /workspace/.hermes/skills/<name>/; run its scripts from the shell, \
                 e.g. `python3 .hermes/skills/<name>/scripts/<script>.py ARGS`.\n",
            );
        }
    }
    if !input.secret_names.is_empty() {
        s.push_str("\n\n## Secrets\nConfigured (values are never visible to you): ");
        s.push_str(&input.secret_names.join(", "));
    }
    if let Some(summary) = input.summary {
        s.push_str("\n\n## Earlier in this conversation\nA summary of the turns before the messages below:\n");
        s.push_str(summary.trim());
    }
    if !input.memories.is_empty() {
        s.push_str("\n\n## Memory\nFrom earlier conversations:\n");
        for memory in input.memories {
            s.push_str("- ");
            push_clipped(&mut s, memory, MAX_MEMORY_CHARS);
            s.push('\n');
        }
    }
    s.trim_end().to_string()
}

/// The last [`HISTORY_LIMIT`] messages, made well-formed for providers: each tool
/// result directly follows the assistant message that called it, results whose call
/// fell out of the window are dropped, and calls without a result get one that says so.
pub fn transcript(history: &[Message]) -> Vec<Message> {
    let window = &history[history.len().saturating_sub(HISTORY_LIMIT)..];
    let mut results: HashMap<&str, &Message> = HashMap::new();
    for m in window {
        if let (Role::Tool, Some(id)) = (m.role, m.tool_call_id.as_deref()) {
            results.entry(id).or_insert(m);
        }
    }
    let mut out = Vec::with_capacity(window.len());
    let mut placed: HashSet<&str> = HashSet::new();
    for m in window {
        match m.role {
            Role::Tool => {} // placed after its call below, or dropped as orphaned
            Role::Assistant if !m.tool_calls.is_empty() => {
                out.push(m.clone());
                for call in &m.tool_calls {
                    if !placed.insert(call.id.as_str()) {
                        continue;
                    }
                    match results.get(call.id.as_str()) {
                        Some(result) => out.push((*result).clone()),
                        None => out.push(Message::tool_result(
                            call.id.clone(),
                            hermes_guest::ToolOutput::err("no result was recorded for this call"),
                        )),
                    }
                }
            }
            _ => out.push(m.clone()),
        }
    }
    out
}

fn push_clipped(s: &mut String, text: &str, max_chars: usize) {
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            s.push_str(&line[..cut]);
            s.push('…');
        }
        None => s.push_str(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_guest::{ToolCall, ToolOutput};

    const FEATURES: Features = Features { memory: true, dreaming: false, automations: true, steering: true };

    fn skill(name: &str, description: &str) -> SkillSummary {
        SkillSummary {
            name: name.into(),
            description: description.into(),
            path: format!(".hermes/skills/{name}/SKILL.md"),
        }
    }

    fn input<'a>(history: &'a [Message], skills: &'a [SkillSummary]) -> ContextInput<'a> {
        ContextInput {
            system_prompt: "You are helpful.",
            skills,
            secret_names: &[],
            memories: &[],
            history,
            summary: None,
            mcp_tools: &[],
            disabled_tools: &[],
            features: &FEATURES,
        }
    }

    #[test]
    fn skills_show_names_and_descriptions_only() {
        let skills = [skill("pdf", "Fill PDF forms.\nLong body that must not show.")];
        let prompt = system_prompt(&input(&[], &skills));
        assert!(prompt.contains("- pdf: Fill PDF forms."));
        assert!(!prompt.contains("Long body"));
        assert!(prompt.starts_with("You are helpful."));
    }

    #[test]
    fn fixed_first_turn_context_stays_small() {
        let request = assemble_context(&input(&[Message::user("hi")], &[]));
        let tool_bytes: usize =
            request.tools.iter().map(|t| t.name.len() + t.description.len() + t.parameters.len()).sum();
        let fixed = request.system.len() + tool_bytes;
        // ~4 bytes a token: well under 2,500 tokens.
        println!("fixed first-turn context: {fixed} bytes");
        assert!(fixed < 4_000, "fixed context is {fixed} bytes");
    }

    #[test]
    fn tool_results_follow_their_call_and_orphans_go() {
        let call = ToolCall::new("c1", "read_file", "{}");
        let history = vec![
            Message::tool_result("gone", ToolOutput::ok("orphan")),
            Message::user("do it"),
            Message::assistant_with_calls("", vec![call, ToolCall::new("c2", "x", "{}")]),
            Message::user("steering in between"),
            Message::tool_result("c1", ToolOutput::ok("done")),
        ];
        let t = transcript(&history);
        let roles: Vec<_> = t.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Tool, Role::User]);
        assert_eq!(t[2].content, "done");
        assert!(t[3].is_error, "c2 has no result and gets a synthetic one");
    }

    #[test]
    fn history_is_bounded() {
        let history: Vec<_> = (0..500).map(|i| Message::user(i.to_string())).collect();
        let t = transcript(&history);
        assert_eq!(t.len(), HISTORY_LIMIT);
        assert_eq!(t[0].content, "300");
    }

    #[test]
    fn the_skill_index_says_how_to_run_skill_scripts_when_the_shell_is_offered() {
        let skills = [skill("report", "Monthly report")];
        let shell = [ToolDefinition { name: "shell".into(), description: String::new(), parameters: "{}".into() }];
        let mut input = input(&[], &skills);
        assert!(!system_prompt(&input).contains("python3 .hermes/skills/"));
        input.mcp_tools = &shell;
        assert!(system_prompt(&input).contains("python3 .hermes/skills/<name>/scripts/"));
        let disabled = ["shell".to_string()];
        input.disabled_tools = &disabled;
        assert!(!system_prompt(&input).contains("python3 .hermes/skills/"));
    }

    #[test]
    fn disabled_tools_are_never_offered() {
        let mcp = [ToolDefinition::new("crm__delete", "d", serde_json::json!({"type": "object"}))];
        let disabled = ["crm__delete".to_string(), "read_file".to_string()];
        let request = assemble_context(&ContextInput { mcp_tools: &mcp, disabled_tools: &disabled, ..input(&[], &[]) });
        assert!(request.tools.iter().all(|t| !disabled.contains(&t.name)));
    }
}
