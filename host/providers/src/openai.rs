//! OpenAI-compatible Chat Completions (`POST {base}/chat/completions`), streamed:
//! text deltas, tool calls whose arguments arrive in pieces, usage in the last chunk.

use std::collections::BTreeMap;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::retry::{Sink, StreamDecoder, stream_call};
use super::sse::SseEvent;
use super::{
    ChatMessage, ChatRequest, ChatRole, Completion, Endpoint, Provider, ProviderError, StopReason, ToolCall, Usage,
    args_or_empty_object,
};

/// A provider speaking OpenAI Chat Completions.
pub(crate) struct OpenAi {
    ep: Endpoint,
    url: String,
    /// OpenAI itself wants `max_completion_tokens`; compatible servers know `max_tokens`.
    max_tokens_field: &'static str,
}

impl OpenAi {
    pub(crate) fn new(ep: Endpoint) -> Self {
        let url = format!("{}/chat/completions", ep.base_url);
        let official = reqwest::Url::parse(&ep.base_url).is_ok_and(|u| u.host_str() == Some("api.openai.com"));
        let max_tokens_field = if official { "max_completion_tokens" } else { "max_tokens" };
        OpenAi { ep, url, max_tokens_field }
    }
}

#[async_trait::async_trait]
impl Provider for OpenAi {
    async fn complete(
        &self,
        req: &ChatRequest,
        on_delta: &mut (dyn for<'a> FnMut(&'a str) + Send),
    ) -> Result<Completion, ProviderError> {
        let mut body = request_body(req)?;
        body[self.max_tokens_field] = json!(req.max_tokens);
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.ep.key {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                ProviderError::InvalidRequest(format!(
                    "the API key for \"{}\" has characters an HTTP header cannot carry ({})",
                    self.ep.name, self.ep.key_hint
                ))
            })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        stream_call::<Decoder>(self.ep.call(&self.url, headers, &body), on_delta).await
    }
}

/// The request body, without the max-tokens field (its name depends on the endpoint).
pub(crate) fn request_body(req: &ChatRequest) -> Result<Value, ProviderError> {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system}));
    }
    for m in &req.messages {
        messages.push(message(m)?);
    }
    let mut body = json!({
        "model": req.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }})
            })
            .collect();
    }
    Ok(body)
}

fn message(m: &ChatMessage) -> Result<Value, ProviderError> {
    Ok(match m.role {
        ChatRole::User if m.images.is_empty() => json!({"role": "user", "content": m.content}),
        ChatRole::User => {
            let mut parts = vec![json!({"type": "text", "text": m.content})];
            parts.extend(m.images.iter().map(|i| json!({"type": "image_url", "image_url": {"url": i.url}})));
            json!({"role": "user", "content": parts})
        }
        ChatRole::Assistant => {
            let mut v = json!({"role": "assistant", "content": m.content});
            if !m.tool_calls.is_empty() {
                if m.content.is_empty() {
                    v["content"] = Value::Null;
                }
                v["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function", "function": {
                            "name": c.name, "arguments": args_or_empty_object(c.arguments.clone()),
                        }})
                    })
                    .collect();
            }
            v
        }
        ChatRole::Tool => {
            let id = m.tool_call_id.as_deref().ok_or_else(|| {
                ProviderError::InvalidRequest("a tool message has no tool_call_id (which call does it answer?)".into())
            })?;
            // Chat Completions has no error flag on tool results; say it in the text.
            let content = if m.is_error && !m.content.starts_with("Error") {
                format!("Error: {}", m.content)
            } else {
                m.content.clone()
            };
            json!({"role": "tool", "tool_call_id": id, "content": content})
        }
    })
}

/// A tool call being assembled from its pieces.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles a completion from `chat.completion.chunk` events.
#[derive(Default)]
pub(crate) struct Decoder {
    content: String,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Option<String>,
    usage: Usage,
}

impl StreamDecoder for Decoder {
    fn event(&mut self, ev: &SseEvent, sink: &mut Sink<'_>) -> Result<bool, ProviderError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Unavailable(format!("malformed chunk in the reply stream: {e}")))?;
        if let Some(err) = chunk.get("error") {
            let msg = err.get("message").and_then(Value::as_str).unwrap_or("unknown error");
            return Err(ProviderError::Unavailable(format!("the model failed mid-stream: {msg}")));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage.input_tokens = tokens(u, "prompt_tokens").unwrap_or(self.usage.input_tokens);
            self.usage.output_tokens = tokens(u, "completion_tokens").unwrap_or(self.usage.output_tokens);
            if let Some(details) = u.get("prompt_tokens_details") {
                self.usage.cached_input_tokens = tokens(details, "cached_tokens").unwrap_or(0);
            }
        }
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else {
            return Ok(false);
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                self.content.push_str(text);
                sink.emit(text);
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for (pos, c) in calls.iter().enumerate() {
                    self.tool_call_delta(pos as u64, c);
                }
            }
        }
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(r.to_string());
        }
        Ok(false)
    }

    fn eof(&mut self) -> Result<(), ProviderError> {
        // Some compatible servers close without `[DONE]`; a finish reason is enough.
        match self.finish_reason {
            Some(_) => Ok(()),
            None => Err(ProviderError::Unavailable("the reply stream ended before the model finished".into())),
        }
    }

    fn finish(self) -> Completion {
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_iter()
            .map(|(i, c)| ToolCall {
                // A provider that omits ids gets unique ones: an index would repeat
                // every turn, and approvals are looked up by call id.
                id: if c.id.is_empty() { format!("call_{i}_{:016x}", rand::random::<u64>()) } else { c.id },
                name: c.name,
                arguments: args_or_empty_object(c.arguments),
            })
            .collect();
        let stop_reason = match self.finish_reason.as_deref() {
            _ if !tool_calls.is_empty() => StopReason::ToolUse,
            Some("stop") => StopReason::EndTurn,
            Some("tool_calls" | "function_call") => StopReason::ToolUse,
            Some("length") => StopReason::MaxTokens,
            _ => StopReason::Other,
        };
        Completion { content: self.content, tool_calls, stop_reason, usage: self.usage }
    }
}

impl Decoder {
    fn tool_call_delta(&mut self, pos: u64, c: &Value) {
        let index = c.get("index").and_then(Value::as_u64).unwrap_or(pos);
        let call = self.calls.entry(index).or_default();
        if let Some(id) = c.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            call.id = id.to_string();
        }
        let Some(f) = c.get("function") else { return };
        if let Some(name) = f.get("name").and_then(Value::as_str) {
            // Normally the whole name comes once; tolerate servers that repeat it or split it.
            if call.name != name {
                call.name.push_str(name);
            }
        }
        if let Some(args) = f.get("arguments") {
            match args {
                Value::String(s) => call.arguments.push_str(s),
                Value::Null => {}
                // A few servers send the arguments as an object rather than JSON text.
                other => call.arguments.push_str(&other.to_string()),
            }
        }
    }
}

fn tokens(u: &Value, field: &str) -> Option<u32> {
    u.get(field).and_then(Value::as_u64).map(|n| n.min(u32::MAX as u64) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(events: &[&str]) -> (Completion, String) {
        let mut d = Decoder::default();
        let mut seen = String::new();
        let mut f = |s: &str| seen.push_str(s);
        let mut sink = Sink::for_test(&mut f);
        for e in events {
            let ev = SseEvent { event: String::new(), data: e.to_string() };
            if d.event(&ev, &mut sink).expect("valid chunk") {
                break;
            }
        }
        (d.finish(), seen)
    }

    #[test]
    fn text_and_split_tool_arguments_are_assembled() {
        let (c, seen) = decode(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Let me "}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"write."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"write_file","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":\"a\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"list","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":8}}}"#,
            "[DONE]",
        ]);
        assert_eq!(seen, "Let me write.");
        assert_eq!(c.content, "Let me write.");
        assert_eq!(c.stop_reason, StopReason::ToolUse);
        assert_eq!(c.usage, Usage { input_tokens: 12, output_tokens: 7, cached_input_tokens: 8 });
        assert_eq!(
            c.tool_calls,
            vec![
                ToolCall { id: "call_a".into(), name: "write_file".into(), arguments: r#"{"path":"a"}"#.into() },
                ToolCall { id: "call_b".into(), name: "list".into(), arguments: "{}".into() },
            ]
        );
    }

    #[test]
    fn finish_reasons_map() {
        let (c, _) = decode(&[r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#, "[DONE]"]);
        assert_eq!(c.stop_reason, StopReason::MaxTokens);
        let (c, _) = decode(&[r#"{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}"#]);
        assert_eq!(c.stop_reason, StopReason::EndTurn);
    }

    #[test]
    fn messages_convert_to_chat_completions() {
        let req = ChatRequest {
            model: "gpt-4o".into(),
            system: "be brief".into(),
            messages: vec![
                ChatMessage {
                    role: ChatRole::User,
                    content: "hi".into(),
                    tool_calls: vec![],
                    tool_call_id: None,
                    is_error: false,
                    images: Vec::new(),
                },
                ChatMessage {
                    role: ChatRole::Assistant,
                    content: String::new(),
                    tool_calls: vec![ToolCall { id: "c1".into(), name: "ls".into(), arguments: String::new() }],
                    tool_call_id: None,
                    is_error: false,
                    images: Vec::new(),
                },
                ChatMessage {
                    role: ChatRole::Tool,
                    content: "denied".into(),
                    tool_calls: vec![],
                    tool_call_id: Some("c1".into()),
                    is_error: true,
                    images: Vec::new(),
                },
            ],
            tools: vec![super::super::ToolSpec {
                name: "ls".into(),
                description: "list".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 100,
        };
        let b = request_body(&req).expect("converts");
        assert_eq!(b["messages"][0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(b["messages"][2]["content"], Value::Null);
        assert_eq!(b["messages"][2]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(b["messages"][3], json!({"role": "tool", "tool_call_id": "c1", "content": "Error: denied"}));
        assert_eq!(b["tools"][0]["function"]["name"], "ls");
        assert_eq!(b["stream_options"]["include_usage"], true);
    }

    #[test]
    fn images_of_a_user_message_become_image_url_parts() {
        let mut m = ChatMessage {
            role: ChatRole::User,
            content: "what is this?".into(),
            tool_calls: vec![],
            tool_call_id: None,
            is_error: false,
            images: vec![crate::ImagePart { url: "https://x.test/a.png".into() }],
        };
        let parts = message(&m).unwrap();
        assert_eq!(
            parts["content"],
            json!([{"type": "text", "text": "what is this?"},
                   {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}])
        );
        m.images.clear();
        assert_eq!(message(&m).unwrap()["content"], "what is this?", "no images: plain text, as before");
    }
}
