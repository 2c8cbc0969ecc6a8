//! Reading a run's progress back from its thread.
//!
//! The thread is the run's whole state. A run that was stopped (host restart, a human
//! approval pending) left its last assistant message with tool calls that have no
//! result yet; a fresh instance answers those and carries on.

use std::collections::HashSet;

use hermes_guest::{Role, ToolCall};

use crate::imports::Entry;

/// What a run has done so far, according to the thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Model turns (assistant messages) this run already persisted.
    pub turns: u32,
    /// Tool calls of this run's last assistant message that have no result message,
    /// in the order the model made them.
    pub unanswered: Vec<ToolCall>,
    /// This run already ended with an answer (its last message is a final answer).
    pub answered: Option<String>,
}

/// The progress of run `run_id` in `history` (oldest first).
pub fn progress(history: &[Entry], run_id: &str) -> Progress {
    let ours = || history.iter().filter(|e| e.run_id.as_deref() == Some(run_id));
    let turns = ours().filter(|e| e.message.role == Role::Assistant).count();
    let Some(last_turn) = ours().rfind(|e| e.message.role == Role::Assistant) else {
        return Progress::default();
    };
    let last = &last_turn.message;
    let answered_ids: HashSet<&str> =
        ours().filter(|e| e.message.role == Role::Tool).filter_map(|e| e.message.tool_call_id.as_deref()).collect();
    let unanswered: Vec<ToolCall> =
        last.tool_calls.iter().filter(|c| !answered_ids.contains(c.id.as_str())).cloned().collect();
    let later_user_input =
        history.iter().skip_while(|e| !std::ptr::eq(*e, last_turn)).any(|e| e.message.role == Role::User);
    let answered = (last.tool_calls.is_empty() && !later_user_input).then(|| last.content.clone());
    Progress { turns: u32::try_from(turns).unwrap_or(u32::MAX), unanswered, answered }
}

/// The text of the latest user message, if any (the memory recall query).
pub fn latest_user_text(history: &[Entry]) -> Option<&str> {
    history.iter().rev().find(|e| e.message.role == Role::User).map(|e| e.message.content.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_guest::{Message, ToolOutput};

    fn entry(run: Option<&str>, message: Message) -> Entry {
        Entry { id: format!("msg_{}", message.content), run_id: run.map(str::to_string), message }
    }

    #[test]
    fn a_fresh_run_has_no_progress() {
        let history =
            [entry(Some("run_old"), Message::assistant("earlier answer")), entry(None, Message::user("hello"))];
        assert_eq!(progress(&history, "run_new"), Progress::default());
    }

    #[test]
    fn calls_without_results_are_unanswered() {
        let calls = vec![ToolCall::new("c1", "write_file", "{}"), ToolCall::new("c2", "read_file", "{}")];
        let history = [
            entry(None, Message::user("go")),
            entry(Some("r"), Message::assistant_with_calls("", calls)),
            entry(Some("r"), Message::tool_result("c1", ToolOutput::ok("ok"))),
        ];
        let p = progress(&history, "r");
        assert_eq!(p.turns, 1);
        assert_eq!(p.unanswered.len(), 1);
        assert_eq!(p.unanswered[0].id, "c2");
        assert!(p.answered.is_none());
    }

    #[test]
    fn a_finished_run_is_recognised_unless_steered_after() {
        let mut history = vec![entry(None, Message::user("go")), entry(Some("r"), Message::assistant("done"))];
        assert_eq!(progress(&history, "r").answered.as_deref(), Some("done"));
        history.push(entry(None, Message::user("one more thing")));
        assert!(progress(&history, "r").answered.is_none());
    }
}
