//! Constructors and accessors for [`Message`].

use crate::{Message, Role, ToolCall, ToolOutput};

impl Message {
    /// A user message (the human, or the vendor's backend).
    pub fn user(text: impl Into<String>) -> Self {
        Self::plain(Role::User, text.into())
    }

    /// An assistant message with text only (a final answer).
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::plain(Role::Assistant, text.into())
    }

    /// An assistant message that calls tools (its text may be empty).
    pub fn assistant_with_calls(text: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self { tool_calls: calls, ..Self::plain(Role::Assistant, text.into()) }
    }

    /// The result of the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, output: ToolOutput) -> Self {
        Self {
            role: Role::Tool,
            content: output.content,
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
            is_error: output.is_error,
        }
    }

    /// True for a message written by the agent.
    pub fn is_assistant(&self) -> bool {
        self.role == Role::Assistant
    }

    /// True for a message written by the user.
    pub fn is_user(&self) -> bool {
        self.role == Role::User
    }

    fn plain(role: Role, content: String) -> Self {
        Self { role, content, tool_calls: Vec::new(), tool_call_id: None, is_error: false }
    }
}

impl ToolCall {
    /// A tool call with JSON-object `arguments`.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: impl Into<String>) -> Self {
        Self { id: id.into(), name: name.into(), arguments: arguments.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_result_answers_its_call() {
        let m = Message::tool_result("call_1", ToolOutput::err("nope"));
        assert_eq!(m.role, Role::Tool);
        assert_eq!(m.tool_call_id.as_deref(), Some("call_1"));
        assert!(m.is_error);
        assert_eq!(m.content, "nope");
    }

    #[test]
    fn assistant_with_calls_keeps_them() {
        let m = Message::assistant_with_calls("", vec![ToolCall::new("c", "t", "{}")]);
        assert!(m.is_assistant());
        assert_eq!(m.tool_calls.len(), 1);
    }
}
