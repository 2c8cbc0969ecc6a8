//! `threads`: the transcript. The boundary validates and bounds each message and
//! scrubs it; the port persists it with the events that announce it, in one commit.

use super::{MAX_TEXT, bounded, for_guest, trap};
use crate::RunState;
use crate::ports::Append;
use crate::wit::hermes::agent::threads::{Compacted, Entry, Host};
use crate::wit::hermes::agent::types::{Message, Role, ToolCall};

/// Most entries one `history` call returns.
const MAX_HISTORY: u32 = 1000;
/// Most tool calls in one assistant message.
const MAX_TOOL_CALLS: usize = 64;
/// Transcript bytes one instance may append: a guest looping on `append` fills the
/// store no faster than this per run stretch.
const MAX_APPENDED_PER_INSTANCE: usize = 64 << 20;

fn validate(m: &Message) -> Result<(), String> {
    bounded("message content", &m.content, MAX_TEXT)?;
    if m.role == Role::User {
        return Err("a guest cannot write user messages; steering input arrives via take-steering".into());
    }
    if m.tool_calls.len() > MAX_TOOL_CALLS {
        return Err(format!("{} tool calls in one message; the limit is {MAX_TOOL_CALLS}", m.tool_calls.len()));
    }
    for c in &m.tool_calls {
        bounded("tool call id", &c.id, 256)?;
        bounded("tool name", &c.name, 256)?;
        bounded("tool arguments", &c.arguments, MAX_TEXT)?;
    }
    if m.role == Role::Tool && m.tool_call_id.as_deref().is_none_or(str::is_empty) {
        return Err("a tool message needs the tool-call-id it answers".into());
    }
    if m.role == Role::Tool && !m.tool_calls.is_empty() {
        return Err("a tool message cannot call tools".into());
    }
    Ok(())
}

impl Host for RunState {
    async fn history(&mut self, limit: u32) -> wasmtime::Result<Vec<Entry>> {
        self.env.ports.threads.history(limit.min(MAX_HISTORY)).await.map_err(trap)
    }

    async fn append(&mut self, message: Message) -> wasmtime::Result<Result<String, String>> {
        if let Err(e) = validate(&message) {
            return Ok(Err(e));
        }
        let size = message.content.len() + message.tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
        if self.appended_bytes + size > MAX_APPENDED_PER_INSTANCE {
            return Ok(Err(format!(
                "this run has appended {} bytes to its thread; the limit per instance is {MAX_APPENDED_PER_INSTANCE}",
                self.appended_bytes
            )));
        }
        self.appended_bytes += size;
        let env = self.env.clone();
        let answered_tool = match (&self.started_call, &message.tool_call_id) {
            (Some((started, tool)), Some(answers)) if started == answers => Some(tool.clone()),
            _ => None,
        };
        let message = Message {
            content: env.secrets.scrub_owned(message.content),
            tool_calls: message
                .tool_calls
                .into_iter()
                .map(|c| ToolCall { id: c.id, name: c.name, arguments: env.secrets.scrub_owned(c.arguments) })
                .collect(),
            ..message
        };
        for_guest(env.ports.threads.append(Append { message, answered_tool }).await)
    }

    async fn tool_started(&mut self, call_id: String, tool: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = bounded("call id", &call_id, 256).and_then(|_| bounded("tool", &tool, 256)) {
            return Ok(Err(e));
        }
        self.started_call = Some((call_id.clone(), tool.clone()));
        for_guest(self.env.ports.threads.tool_started(&call_id, &tool).await)
    }

    async fn interrupted_calls(&mut self) -> wasmtime::Result<Vec<String>> {
        self.env.ports.threads.interrupted_calls().await.map_err(trap)
    }

    async fn take_steering(&mut self) -> wasmtime::Result<Vec<String>> {
        self.env.ports.threads.take_steering().await.map_err(trap)
    }

    async fn compaction(&mut self) -> wasmtime::Result<Option<Compacted>> {
        let found = self.env.ports.threads.compaction().await.map_err(trap)?;
        Ok(found.map(|c| Compacted { summary: c.summary, through: c.through }))
    }

    async fn compact(&mut self, summary: String, through: String, folded: u32) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = bounded("summary", &summary, MAX_SUMMARY).and_then(|_| bounded("through", &through, 256)) {
            return Ok(Err(e));
        }
        let summary = self.env.secrets.scrub_owned(summary);
        let compaction = crate::ports::Compaction { summary, through };
        for_guest(self.env.ports.threads.compact(compaction, folded).await)
    }
}

/// Largest compaction summary kept (it is sent with every later request).
const MAX_SUMMARY: usize = 64 << 10;
