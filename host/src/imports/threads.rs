//! `threads`: the transcript. Appends persist the message and the events that
//! announce it in one transaction.

use serde_json::{Value, json};

use super::{MAX_TEXT, bounded, preview};
use crate::runtime::wit::hermes::agent::threads::{Entry, Host};
use crate::runtime::wit::hermes::agent::types::{Message, Role as WitRole, ToolCall};
use crate::runtime::{RunEnv, RunState};
use hermes_events::NewEvent;
use hermes_store::runs;
use hermes_store::threads::{self as store, MessageRow, Role, StoredToolCall};

/// Most entries one `history` call returns.
const MAX_HISTORY: u32 = 1000;
/// Most tool calls in one assistant message.
const MAX_TOOL_CALLS: usize = 64;
/// Transcript bytes one instance may append: a guest looping on `append` fills the
/// store no faster than this per run stretch.
const MAX_APPENDED_PER_INSTANCE: usize = 64 << 20;
/// Bytes of a tool result shown in its `tool_result` event.
const RESULT_PREVIEW: usize = 2048;

fn to_wit(m: MessageRow) -> Entry {
    // Attachments are shown to the model as a short list after the user's text.
    let content = m.model_content();
    Entry {
        id: m.id,
        run_id: m.run_id,
        message: Message {
            role: match m.role {
                Role::User => WitRole::User,
                Role::Assistant => WitRole::Assistant,
                Role::Tool => WitRole::Tool,
            },
            content,
            tool_calls: m
                .tool_calls
                .into_iter()
                .map(|c| ToolCall { id: c.id, name: c.name, arguments: c.arguments })
                .collect(),
            tool_call_id: m.tool_call_id,
            is_error: m.is_error,
        },
    }
}

fn validate(m: &Message) -> Result<Role, String> {
    bounded("message content", &m.content, MAX_TEXT)?;
    let role = match m.role {
        WitRole::User => {
            return Err("a guest cannot write user messages; steering input arrives via take-steering".into());
        }
        WitRole::Assistant => Role::Assistant,
        WitRole::Tool => Role::Tool,
    };
    if m.tool_calls.len() > MAX_TOOL_CALLS {
        return Err(format!("{} tool calls in one message; the limit is {MAX_TOOL_CALLS}", m.tool_calls.len()));
    }
    for c in &m.tool_calls {
        bounded("tool call id", &c.id, 256)?;
        bounded("tool name", &c.name, 256)?;
        bounded("tool arguments", &c.arguments, MAX_TEXT)?;
    }
    if role == Role::Tool && m.tool_call_id.as_deref().is_none_or(str::is_empty) {
        return Err("a tool message needs the tool-call-id it answers".into());
    }
    if role == Role::Tool && !m.tool_calls.is_empty() {
        return Err("a tool message cannot call tools".into());
    }
    Ok(role)
}

/// The events announcing an appended message.
fn announce(env: &RunEnv, row: &MessageRow, started: Option<&(String, String)>) -> Vec<NewEvent> {
    let scoped = |kind: &str, payload: Value| {
        NewEvent::new(kind, &env.deployment_id, payload).scoped(Some(&env.thread_id), Some(&env.run_id))
    };
    let mut events = Vec::new();
    match row.role {
        Role::Assistant => {
            if !row.content.is_empty() {
                events.push(scoped("message", json!({"message_id": row.id, "role": "agent", "content": row.content})));
            }
            for c in &row.tool_calls {
                let args = serde_json::from_str::<Value>(&c.arguments).unwrap_or(Value::String(c.arguments.clone()));
                let mut payload = json!({"call_id": c.id, "tool": c.name, "arguments": args});
                if let Some((server, tool)) = crate::mcp::split_name(&env.spec.mcp_servers, &c.name) {
                    payload["server"] = json!(server);
                    payload["mcp_tool"] = json!(tool);
                }
                events.push(scoped("tool_call", payload));
            }
        }
        Role::Tool => {
            let mut payload = json!({
                "call_id": row.tool_call_id,
                "is_error": row.is_error,
                "preview": preview(&row.content, RESULT_PREVIEW),
                "bytes": row.content.len(),
            });
            if let Some((_, name)) = started.filter(|(id, _)| row.tool_call_id.as_deref() == Some(id.as_str())) {
                payload["tool"] = json!(name);
                if let Some((server, tool)) = crate::mcp::split_name(&env.spec.mcp_servers, name) {
                    payload["server"] = json!(server);
                    payload["mcp_tool"] = json!(tool);
                }
            }
            events.push(scoped("tool_result", payload))
        }
        Role::User => {}
    }
    events
}

impl Host for RunState {
    async fn history(&mut self, limit: u32) -> wasmtime::Result<Vec<Entry>> {
        let thread = self.env.thread_id.clone();
        let rows = self.env.services.db.read(move |conn| store::history(conn, &thread, limit.min(MAX_HISTORY))).await?;
        Ok(rows.into_iter().map(to_wit).collect())
    }

    async fn append(&mut self, message: Message) -> wasmtime::Result<Result<String, String>> {
        let role = match validate(&message) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let size = message.content.len() + message.tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
        if self.appended_bytes + size > MAX_APPENDED_PER_INSTANCE {
            return Ok(Err(format!(
                "this run has appended {} bytes to its thread; the limit per instance is {MAX_APPENDED_PER_INSTANCE}",
                self.appended_bytes
            )));
        }
        self.appended_bytes += size;
        let env = self.env.clone();
        let row = MessageRow {
            id: hermes_types::ids::new_id("msg"),
            thread_id: env.thread_id.clone(),
            run_id: Some(env.run_id.clone()),
            role,
            content: env.secrets.scrub_owned(message.content),
            tool_calls: message
                .tool_calls
                .into_iter()
                .map(|c| StoredToolCall { id: c.id, name: c.name, arguments: env.secrets.scrub_owned(c.arguments) })
                .collect(),
            tool_call_id: message.tool_call_id,
            is_error: message.is_error,
            delivered: true,
            created_at: hermes_types::ids::now(),
            attachments: Vec::new(),
        };
        let events = announce(&env, &row, self.started_call.as_ref());
        let run_id = env.run_id.clone();
        let (id, _) = env
            .services
            .hub
            .commit(&env.deployment_id, move |conn| {
                store::insert_message(conn, &row)?;
                if let Some(call) = &row.tool_call_id {
                    runs::tool_finished(conn, &run_id, call)?;
                }
                Ok((row.id, events))
            })
            .await?;
        Ok(Ok(id))
    }

    async fn tool_started(&mut self, call_id: String, tool: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = bounded("call id", &call_id, 256).and_then(|_| bounded("tool", &tool, 256)) {
            return Ok(Err(e));
        }
        self.started_call = Some((call_id.clone(), tool.clone()));
        let run_id = self.env.run_id.clone();
        self.env.services.db.write(move |conn| runs::tool_started(conn, &run_id, &call_id, &tool)).await?;
        Ok(Ok(()))
    }

    async fn interrupted_calls(&mut self) -> wasmtime::Result<Vec<String>> {
        let run_id = self.env.run_id.clone();
        Ok(self.env.services.db.read(move |conn| runs::interrupted_calls(conn, &run_id)).await?)
    }

    async fn take_steering(&mut self) -> wasmtime::Result<Vec<String>> {
        let (thread, run) = (self.env.thread_id.clone(), self.env.run_id.clone());
        let taken = self.env.services.db.write(move |conn| store::take_undelivered(conn, &thread, &run)).await?;
        Ok(taken.iter().map(MessageRow::model_content).collect())
    }
}
