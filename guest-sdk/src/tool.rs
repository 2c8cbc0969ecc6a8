//! Constructors for [`ToolOutput`] and [`ToolDefinition`].

use crate::{ToolDefinition, ToolOutput};

impl ToolOutput {
    /// A successful result: `content` goes back to the model.
    pub fn ok(content: impl Into<String>) -> Self {
        Self { content: content.into(), is_error: false }
    }

    /// A failed result: the model sees `reason` as the tool's error and can react.
    pub fn err(reason: impl Into<String>) -> Self {
        Self { content: reason.into(), is_error: true }
    }
}

impl From<Result<String, String>> for ToolOutput {
    /// `Ok(text)` → [`ToolOutput::ok`], `Err(reason)` → [`ToolOutput::err`].
    fn from(result: Result<String, String>) -> Self {
        match result {
            Ok(text) => Self::ok(text),
            Err(reason) => Self::err(reason),
        }
    }
}

impl ToolDefinition {
    /// A tool offered to the model. `name` must match `[A-Za-z0-9_-]{1,64}`;
    /// `description` says in a sentence or two what it does and when to use it;
    /// `parameters` is the JSON Schema of the arguments object.
    ///
    /// Keep descriptions and schemas terse: every tool's definition is sent to the
    /// model on every turn.
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: serde_json::Value) -> Self {
        Self { name: name.into(), description: description.into(), parameters: parameters.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_converts_to_output() {
        assert_eq!(ToolOutput::from(Ok("x".to_string())), ToolOutput::ok("x"));
        assert!(ToolOutput::from(Err("bad".to_string())).is_error);
    }

    #[test]
    fn definition_serialises_its_schema() {
        let d = ToolDefinition::new("t", "d", serde_json::json!({"type": "object"}));
        assert_eq!(d.parameters, r#"{"type":"object"}"#);
    }
}
