//! The Anthropic Messages API (`POST {base}/v1/messages`), streamed: text blocks,
//! `tool_use` blocks whose input arrives as `input_json_delta` pieces, usage from
//! `message_start` and `message_delta`.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::retry::{Sink, StreamDecoder, stream_call};
use super::sse::SseEvent;
use super::{
    ChatMessage, ChatRequest, ChatRole, Completion, Endpoint, Provider, ProviderError, StopReason, ToolCall, Usage,
    args_or_empty_object,
};

/// The API version this decoder speaks.
const API_VERSION: &str = "2023-06-01";

/// A provider speaking the Anthropic Messages API.
pub(crate) struct Anthropic {
    ep: Endpoint,
    url: String,
}

impl Anthropic {
    pub(crate) fn new(ep: Endpoint) -> Self {
        let url = messages_url(&ep.base_url);
        Anthropic { ep, url }
    }
}

/// `{base}/v1/messages`, whether or not the base already ends in `/v1`.
fn messages_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1") { format!("{base}/messages") } else { format!("{base}/v1/messages") }
}

#[async_trait::async_trait]
impl Provider for Anthropic {
    async fn complete(
        &self,
        req: &ChatRequest,
        on_delta: &mut (dyn for<'a> FnMut(&'a str) + Send),
    ) -> Result<Completion, ProviderError> {
        let body = request_body(req)?;
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        if let Some(key) = &self.ep.key {
            let mut v = HeaderValue::from_str(key.expose()).map_err(|_| {
                ProviderError::InvalidRequest(format!(
                    "the API key for \"{}\" has characters an HTTP header cannot carry ({})",
                    self.ep.name, self.ep.key_hint
                ))
            })?;
            v.set_sensitive(true);
            headers.insert("x-api-key", v);
        }
        stream_call::<Decoder>(self.ep.call(&self.url, headers, &body), on_delta).await
    }
}

/// The request body: system as a top-level field, tool results as `tool_result`
/// blocks in user messages, consecutive same-role messages merged.
pub(crate) fn request_body(req: &ChatRequest) -> Result<Value, ProviderError> {
    let mut messages: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let (role, blocks) = message(m)?;
        if blocks.is_empty() {
            continue; // the API rejects empty content
        }
        match messages.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens,
        "stream": true,
        "messages": messages.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect::<Vec<_>>(),
    });
    // Prompt caching: the stable prefix is marked so a later request that starts the
    // same way is read from the cache. Anthropic caches in the order tools, system,
    // messages; the breakpoints are the last tool (the schemas change only when the
    // deployment's tools do), the system prompt (with the thread's summary, it
    // changes at a compaction or a new run's recall), and the newest message, so
    // each turn of a run reads the previous turns from the cache. Three of the four
    // breakpoints allowed; prefixes below the model's minimum are simply not cached.
    let cache = || json!({"type": "ephemeral"});
    if !req.system.is_empty() {
        body["system"] = json!([{"type": "text", "text": req.system, "cache_control": cache()}]);
    }
    if !req.tools.is_empty() {
        let mut tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        if let Some(last) = tools.last_mut() {
            last["cache_control"] = cache();
        }
        body["tools"] = Value::Array(tools);
    }
    if let Some(block) = body["messages"]
        .as_array_mut()
        .and_then(|m| m.last_mut())
        .and_then(|m| m["content"].as_array_mut())
        .and_then(|c| c.last_mut())
    {
        block["cache_control"] = cache();
    }
    Ok(body)
}

fn message(m: &ChatMessage) -> Result<(&'static str, Vec<Value>), ProviderError> {
    let text = |blocks: &mut Vec<Value>| {
        if !m.content.is_empty() {
            blocks.push(json!({"type": "text", "text": m.content}));
        }
    };
    let mut blocks = Vec::new();
    Ok(match m.role {
        ChatRole::User => {
            // Images first, then the text that refers to them (Anthropic's advice).
            for image in &m.images {
                blocks.push(json!({"type": "image", "source": {"type": "url", "url": image.url}}));
            }
            text(&mut blocks);
            ("user", blocks)
        }
        ChatRole::Assistant => {
            text(&mut blocks);
            for c in &m.tool_calls {
                let input: Value = serde_json::from_str(&args_or_empty_object(c.arguments.clone())).map_err(|e| {
                    ProviderError::InvalidRequest(format!(
                        "tool call {} ({}) has arguments that are not JSON: {e}",
                        c.id, c.name
                    ))
                })?;
                if !input.is_object() {
                    return Err(ProviderError::InvalidRequest(format!(
                        "tool call {} ({}) has arguments that are not a JSON object",
                        c.id, c.name
                    )));
                }
                blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
            }
            ("assistant", blocks)
        }
        ChatRole::Tool => {
            let id = m.tool_call_id.as_deref().ok_or_else(|| {
                ProviderError::InvalidRequest("a tool message has no tool_call_id (which call does it answer?)".into())
            })?;
            let mut block = json!({"type": "tool_result", "tool_use_id": id, "content": m.content});
            if m.is_error {
                block["is_error"] = json!(true);
            }
            blocks.push(block);
            ("user", blocks)
        }
    })
}

/// A content block being streamed.
enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
    },
    /// Thinking and server-side blocks: not part of the completion.
    Other,
}

/// Assembles a completion from Messages API stream events.
#[derive(Default)]
pub(crate) struct Decoder {
    content: String,
    blocks: BTreeMap<u64, Block>,
    stop_reason: Option<String>,
    usage: Usage,
}

impl StreamDecoder for Decoder {
    fn event(&mut self, ev: &SseEvent, sink: &mut Sink<'_>) -> Result<bool, ProviderError> {
        if ev.data.trim().is_empty() {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| ProviderError::Unavailable(format!("malformed event in the reply stream: {e}")))?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(&ev.event);
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(u) = v.pointer("/message/usage") {
                    self.read_usage(u);
                }
            }
            "content_block_start" => {
                let b = v.get("content_block").unwrap_or(&Value::Null);
                let block = match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let t = b.get("text").and_then(Value::as_str).unwrap_or("");
                        self.content.push_str(t);
                        sink.emit(t);
                        Block::Text
                    }
                    Some("tool_use") => {
                        Block::Tool { id: str_field(b, "id"), name: str_field(b, "name"), json: String::new() }
                    }
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = v.get("delta").unwrap_or(&Value::Null);
                match (d.get("type").and_then(Value::as_str), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => {
                        let t = d.get("text").and_then(Value::as_str).unwrap_or("");
                        self.content.push_str(t);
                        sink.emit(t);
                    }
                    (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                        json.push_str(d.get("partial_json").and_then(Value::as_str).unwrap_or(""));
                    }
                    (Some("input_json_delta"), _) => {
                        return Err(ProviderError::Unavailable(format!(
                            "malformed reply stream: tool input for block {index}, which is not a tool_use block"
                        )));
                    }
                    _ => {} // thinking, signatures, citations
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_string());
                }
                if let Some(u) = v.get("usage") {
                    self.read_usage(u);
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let e = v.get("error").unwrap_or(&Value::Null);
                let msg = e.get("message").and_then(Value::as_str).unwrap_or("unknown error");
                let what = e.get("type").and_then(Value::as_str).unwrap_or("error");
                let text = format!("the model failed mid-stream: {what}: {msg}");
                return Err(if what == "invalid_request_error" {
                    ProviderError::InvalidRequest(text)
                } else {
                    ProviderError::Unavailable(text)
                });
            }
            _ => {} // ping, content_block_stop, and event types added later
        }
        Ok(false)
    }

    fn eof(&mut self) -> Result<(), ProviderError> {
        match self.stop_reason {
            Some(_) => Ok(()),
            None => Err(ProviderError::Unavailable("the reply stream ended before the model finished".into())),
        }
    }

    fn finish(self) -> Completion {
        let tool_calls: Vec<ToolCall> = self
            .blocks
            .into_values()
            .filter_map(|b| match b {
                Block::Tool { id, name, json } => Some(ToolCall { id, name, arguments: args_or_empty_object(json) }),
                _ => None,
            })
            .collect();
        let stop_reason = match self.stop_reason.as_deref() {
            Some("end_turn") => StopReason::EndTurn,
            Some("tool_use") => StopReason::ToolUse,
            Some("max_tokens") => StopReason::MaxTokens,
            _ if !tool_calls.is_empty() => StopReason::ToolUse,
            _ => StopReason::Other,
        };
        Completion { content: self.content, tool_calls, stop_reason, usage: self.usage }
    }
}

impl Decoder {
    /// Usage counts are cumulative: later events replace earlier ones.
    fn read_usage(&mut self, u: &Value) {
        let n = |f: &str| u.get(f).and_then(Value::as_u64).map(|n| n.min(u32::MAX as u64) as u32);
        if let Some(input) = n("input_tokens") {
            let read = n("cache_read_input_tokens").unwrap_or(0);
            let written = n("cache_creation_input_tokens").unwrap_or(0);
            self.usage.input_tokens = input.saturating_add(read).saturating_add(written);
            self.usage.cached_input_tokens = read;
        }
        if let Some(output) = n("output_tokens") {
            self.usage.output_tokens = output;
        }
    }
}

fn str_field(v: &Value, f: &str) -> String {
    v.get(f).and_then(Value::as_str).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolSpec;

    fn user(s: &str) -> ChatMessage {
        ChatMessage {
            role: ChatRole::User,
            content: s.into(),
            tool_calls: vec![],
            tool_call_id: None,
            is_error: false,
            images: Vec::new(),
        }
    }

    fn tool_result(id: &str, s: &str, is_error: bool) -> ChatMessage {
        ChatMessage {
            role: ChatRole::Tool,
            content: s.into(),
            tool_calls: vec![],
            tool_call_id: Some(id.into()),
            is_error,
            images: Vec::new(),
        }
    }

    #[test]
    fn urls_accept_a_base_with_or_without_v1() {
        assert_eq!(messages_url("https://api.anthropic.com"), "https://api.anthropic.com/v1/messages");
        assert_eq!(messages_url("https://api.anthropic.com/v1/"), "https://api.anthropic.com/v1/messages");
    }

    #[test]
    fn images_of_a_user_message_become_url_image_blocks_before_the_text() {
        let mut m = user("what is this?");
        m.images = vec![crate::ImagePart { url: "https://x.test/a.png".into() }];
        let (role, blocks) = message(&m).unwrap();
        assert_eq!(role, "user");
        assert_eq!(blocks[0], json!({"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}));
        assert_eq!(blocks[1], json!({"type": "text", "text": "what is this?"}));
    }

    #[test]
    fn tool_results_become_merged_user_blocks_and_system_is_top_level() {
        let req = ChatRequest {
            model: "claude-sonnet-4.5".into(),
            system: "be brief".into(),
            messages: vec![
                user("list and read"),
                ChatMessage {
                    role: ChatRole::Assistant,
                    content: "Sure.".into(),
                    tool_calls: vec![
                        ToolCall { id: "t1".into(), name: "ls".into(), arguments: String::new() },
                        ToolCall { id: "t2".into(), name: "read".into(), arguments: r#"{"p":"a"}"#.into() },
                    ],
                    tool_call_id: None,
                    is_error: false,
                    images: Vec::new(),
                },
                tool_result("t1", "a", false),
                tool_result("t2", "no such file", true),
                user("thanks"),
            ],
            tools: vec![],
            max_tokens: 64,
        };
        let b = request_body(&req).expect("converts");
        assert_eq!(b["system"], json!([{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]));
        assert!(b.get("tools").is_none());
        let msgs = b["messages"].as_array().expect("array");
        assert_eq!(msgs.len(), 3, "{msgs:#?}");
        assert_eq!(msgs[1]["content"][1], json!({"type": "tool_use", "id": "t1", "name": "ls", "input": {}}));
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(msgs[2]["content"][0], json!({"type": "tool_result", "tool_use_id": "t1", "content": "a"}));
        assert_eq!(msgs[2]["content"][1]["is_error"], true);
        assert_eq!(
            msgs[2]["content"][2],
            json!({"type": "text", "text": "thanks", "cache_control": {"type": "ephemeral"}}),
            "the newest block is the last cache breakpoint"
        );
        let with_tools = ChatRequest {
            tools: vec![
                ToolSpec { name: "a".into(), description: "A".into(), parameters: json!({"type": "object"}) },
                ToolSpec { name: "b".into(), description: "B".into(), parameters: json!({"type": "object"}) },
            ],
            ..req
        };
        let b = request_body(&with_tools).expect("converts");
        assert!(b["tools"][0].get("cache_control").is_none());
        assert_eq!(
            b["tools"][1]["cache_control"],
            json!({"type": "ephemeral"}),
            "the last tool ends the stable prefix"
        );
    }

    #[test]
    fn stream_events_assemble_text_tools_and_usage() {
        let events = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ("ping", r#"{"type":"ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"On "}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"it."}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"write_file","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\": \"a"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":".txt\"}"}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ];
        let mut d = Decoder::default();
        let mut seen = String::new();
        let mut f = |s: &str| seen.push_str(s);
        let mut sink = Sink::for_test(&mut f);
        let mut done = false;
        for (event, data) in events {
            done = d.event(&SseEvent { event: event.into(), data: data.into() }, &mut sink).expect("valid event");
        }
        assert!(done);
        let c = d.finish();
        assert_eq!(seen, "On it.");
        assert_eq!(c.content, "On it.");
        assert_eq!(c.stop_reason, StopReason::ToolUse);
        assert_eq!(c.usage, Usage { input_tokens: 25, output_tokens: 30, cached_input_tokens: 5 });
        assert_eq!(
            c.tool_calls,
            vec![ToolCall {
                id: "toolu_9".into(),
                name: "write_file".into(),
                arguments: r#"{"path": "a.txt"}"#.into()
            }]
        );
    }

    #[test]
    fn overloaded_mid_stream_is_unavailable() {
        let mut d = Decoder::default();
        let mut f = |_: &str| {};
        let mut sink = Sink::for_test(&mut f);
        let ev = SseEvent {
            event: "error".into(),
            data: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(),
        };
        assert!(matches!(d.event(&ev, &mut sink), Err(ProviderError::Unavailable(m)) if m.contains("Overloaded")));
    }
}
