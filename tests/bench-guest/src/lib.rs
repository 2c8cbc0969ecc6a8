//! The workload of the wasm-vs-native benchmark: the harness's context assembly over a
//! synthetic 200-message thread. The `hermes-bench-guest` command runs it in wasm; a
//! native benchmark can call [`run`] directly, so both sides do exactly the same work.

use hermes_guest::harness::exports::hermes::agent::agent::Features;
use hermes_guest::harness::hermes::agent::skills::SkillSummary;
use hermes_guest::{Message, ToolCall, ToolOutput};
use hermes_harness::{ContextInput, assemble_context};

/// The seed's defaults: memory, automations and steering on.
const FEATURES: Features = Features { memory: true, dreaming: false, automations: true, steering: true };

/// Messages in the synthetic thread.
pub const THREAD_LEN: usize = 200;

/// Everything [`run`] assembles the context from.
pub struct Workload {
    history: Vec<Message>,
    skills: Vec<SkillSummary>,
    secret_names: Vec<String>,
    memories: Vec<String>,
}

impl Workload {
    /// A deterministic thread of user turns, tool calls and tool results.
    pub fn synthetic() -> Self {
        let mut history = Vec::with_capacity(THREAD_LEN);
        let mut i = 0;
        while history.len() < THREAD_LEN {
            history.push(Message::user(format!(
                "Request {i}: please update the quarterly report section {i} with the latest figures and summarise the changes."
            )));
            let call = ToolCall::new(
                format!("call_{i}"),
                "read_file",
                format!(r#"{{"path":"reports/q{}/section-{i}.md"}}"#, i % 4 + 1),
            );
            history.push(Message::assistant_with_calls("Reading the section first.", vec![call]));
            history.push(Message::tool_result(
                format!("call_{i}"),
                ToolOutput::ok("Revenue grew 12% quarter over quarter. ".repeat(8)),
            ));
            history.push(Message::assistant(format!(
                "Section {i} updated: revenue up 12%, costs flat, margin improved by two points."
            )));
            i += 1;
        }
        history.truncate(THREAD_LEN);
        let skills = (0..12)
            .map(|i| SkillSummary {
                name: format!("skill-{i}"),
                description: format!("Does task number {i} the way this customer likes it."),
                path: format!(".hermes/skills/skill-{i}/SKILL.md"),
            })
            .collect();
        Self {
            history,
            skills,
            secret_names: vec!["CRM_TOKEN".into(), "META_ADS_TOKEN".into()],
            memories: vec!["The customer reports in EUR.".into(), "Quarter ends in March.".into()],
        }
    }

    fn input(&self) -> ContextInput<'_> {
        ContextInput {
            system_prompt: "You are the finance assistant of Acme.",
            skills: &self.skills,
            secret_names: &self.secret_names,
            memories: &self.memories,
            history: &self.history,
            summary: None,
            mcp_tools: &[],
            disabled_tools: &[],
            features: &FEATURES,
        }
    }
}

/// Assembles the context `iterations` times; returns a checksum of the results.
pub fn run(workload: &Workload, iterations: u64) -> u64 {
    let mut checksum: u64 = 0;
    for _ in 0..iterations {
        let request = assemble_context(std::hint::black_box(&workload.input()));
        let bytes: usize = request.messages.iter().map(|m| m.content.len()).sum();
        checksum = checksum.wrapping_mul(31).wrapping_add((request.system.len() + bytes + request.tools.len()) as u64);
    }
    checksum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_is_deterministic() {
        let w = Workload::synthetic();
        assert_eq!(w.history.len(), THREAD_LEN);
        assert_eq!(run(&w, 3), run(&w, 3));
    }
}
