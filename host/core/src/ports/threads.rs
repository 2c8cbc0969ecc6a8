//! The threads port: the run's transcript in the store. An appended message and
//! the events announcing it (`message`, `tool_call`, `tool_result`) commit together.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_events::{EventHub, NewEvent};
use hermes_runtime::ports::{Append, Compaction, PortError, PortResult, ThreadsPort};
use hermes_runtime::wit::hermes::agent::threads::Entry;
use hermes_runtime::wit::hermes::agent::types::{Message, Role as WitRole, ToolCall};
use hermes_store::Db;
use hermes_store::runs;
use hermes_store::threads::{self as store, MessageRow, Role, StoredToolCall};
use hermes_types::text::preview;
use serde_json::{Value, json};

use crate::plugins::Attached;
use crate::run_scope::RunScope;

/// Bytes of a tool result shown in its `tool_result` event's `preview`.
const RESULT_PREVIEW: usize = 2048;

/// Bytes of a tool result carried whole in its `tool_result` event's `result`;
/// a longer one is cut there (and `result_truncated` says so), the transcript keeps it all.
const RESULT_MAX: usize = 16 * 1024;

/// The transcript of one run's thread.
pub(crate) struct Transcript {
    pub db: Db,
    pub hub: EventHub,
    pub scope: Arc<RunScope>,
    /// The run's plugins, to name a plugin tool's origin in its events.
    pub plugins: Arc<[Attached]>,
    /// The run's open `execute_tool` spans (shared with the tool desk).
    pub spans: Arc<crate::trace::ToolSpans>,
}

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

/// Where a tool comes from, in its events, with the same `origin` the Tools API lists:
/// `builtin`, `mcp` (and `server`/`mcp_tool`) or `plugin:<plg_id>` (and
/// `plugin`/`plugin_tool`); `name` is the tool's own name there (the MCP server's or
/// plugin's, not the model-facing `tool`).
fn describe_origin(scope: &RunScope, plugins: &[Attached], tool: &str, payload: &mut Value) {
    if let Some((server, own)) = crate::mcp::split_name(&scope.spec.mcp_servers, tool) {
        payload["name"] = json!(own);
        payload["origin"] = json!("mcp");
        payload["server"] = json!(server);
        payload["mcp_tool"] = json!(own);
    } else if let Some((p, own)) = plugins.iter().find_map(|p| p.tool_of(tool).map(|t| (p, t))) {
        payload["name"] = json!(own);
        payload["origin"] = json!(format!("plugin:{}", p.id));
        payload["plugin"] = json!(p.name);
        payload["plugin_tool"] = json!(own);
    } else {
        payload["name"] = json!(tool);
        payload["origin"] = json!("builtin");
    }
}

/// A tool's output as its `tool_result` event carries it: the JSON value when the
/// whole output is JSON and fits, else the text cut at [`RESULT_MAX`].
fn result_value(content: &str) -> (Value, bool) {
    if content.len() <= RESULT_MAX {
        let parsed = serde_json::from_str::<Value>(content).ok().filter(|v| v.is_object() || v.is_array());
        (parsed.unwrap_or_else(|| json!(content)), false)
    } else {
        let mut end = RESULT_MAX;
        while !content.is_char_boundary(end) {
            end -= 1;
        }
        (json!(&content[..end]), true)
    }
}

/// The events announcing an appended message.
fn announce(scope: &RunScope, plugins: &[Attached], row: &MessageRow, answered_tool: Option<&str>) -> Vec<NewEvent> {
    let scoped = |kind: &str, payload: Value| {
        NewEvent::new(kind, &scope.deployment_id, payload).scoped(Some(&scope.thread_id), Some(&scope.run_id))
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
                describe_origin(scope, plugins, &c.name, &mut payload);
                events.push(scoped("tool_call", payload));
            }
        }
        Role::Tool => {
            let (result, truncated) = result_value(&row.content);
            let mut payload = json!({
                "call_id": row.tool_call_id,
                "is_error": row.is_error,
                "result": result,
                "result_truncated": truncated,
                "preview": preview(&row.content, RESULT_PREVIEW),
                "bytes": row.content.len(),
            });
            if let Some(name) = answered_tool {
                payload["tool"] = json!(name);
                describe_origin(scope, plugins, name, &mut payload);
            }
            events.push(scoped("tool_result", payload))
        }
        Role::User => {}
    }
    events
}

#[async_trait]
impl ThreadsPort for Transcript {
    async fn history(&self, limit: u32) -> PortResult<Vec<Entry>> {
        let thread = self.scope.thread_id.clone();
        let rows = self.db.read(move |conn| store::history(conn, &thread, limit)).await.map_err(PortError::host)?;
        Ok(rows.into_iter().map(to_wit).collect())
    }

    async fn append(&self, append: Append) -> PortResult<String> {
        let Append { message, answered_tool } = append;
        let role = match message.role {
            WitRole::Assistant => Role::Assistant,
            WitRole::Tool => Role::Tool,
            // The boundary refuses these; a port is not the place to trust that.
            WitRole::User => return Err(PortError::Guest("a guest cannot write user messages".into())),
        };
        let scope = self.scope.clone();
        let row = MessageRow {
            id: hermes_types::ids::new_id("msg"),
            thread_id: scope.thread_id.clone(),
            run_id: Some(scope.run_id.clone()),
            role,
            content: message.content,
            tool_calls: message
                .tool_calls
                .into_iter()
                .map(|c| StoredToolCall { id: c.id, name: c.name, arguments: c.arguments })
                .collect(),
            tool_call_id: message.tool_call_id,
            is_error: message.is_error,
            delivered: true,
            created_at: hermes_types::ids::now(),
            attachments: Vec::new(),
        };
        let events = announce(&scope, &self.plugins, &row, answered_tool.as_deref());
        let capture = hermes_telemetry::capture_content();
        if capture {
            for c in &row.tool_calls {
                self.spans.remember_arguments(&c.id, scope.secrets.scrub(&c.arguments).into_owned());
            }
        }
        if let Some(call) = &row.tool_call_id {
            let result = capture.then(|| scope.secrets.scrub(&row.content).into_owned());
            self.spans.finish(call, row.is_error, result.as_deref());
        }
        let run_id = scope.run_id.clone();
        let (id, _) = self
            .hub
            .commit(&scope.deployment_id, move |conn| {
                store::insert_message(conn, &row)?;
                if let Some(call) = &row.tool_call_id {
                    runs::tool_finished(conn, &run_id, call, &hermes_types::ids::now())?;
                }
                Ok((row.id, events))
            })
            .await
            .map_err(PortError::host)?;
        Ok(id)
    }

    async fn tool_started(&self, call_id: &str, tool: &str) -> PortResult<()> {
        let kind =
            if crate::mcp::split_name(&self.scope.spec.mcp_servers, tool).is_some() { "extension" } else { "function" };
        self.spans.start(call_id, tool, kind);
        let (run_id, call_id, tool) = (self.scope.run_id.clone(), call_id.to_string(), tool.to_string());
        self.db
            .write(move |conn| runs::tool_started(conn, &run_id, &call_id, &tool, &hermes_types::ids::now()))
            .await
            .map_err(PortError::host)
    }

    async fn interrupted_calls(&self) -> PortResult<Vec<String>> {
        let run_id = self.scope.run_id.clone();
        self.db.read(move |conn| runs::interrupted_calls(conn, &run_id)).await.map_err(PortError::host)
    }

    async fn take_steering(&self) -> PortResult<Vec<String>> {
        let (thread, run) = (self.scope.thread_id.clone(), self.scope.run_id.clone());
        let taken =
            self.db.write(move |conn| store::take_undelivered(conn, &thread, &run)).await.map_err(PortError::host)?;
        Ok(taken.iter().map(MessageRow::model_content).collect())
    }

    async fn compaction(&self) -> PortResult<Option<Compaction>> {
        let thread = self.scope.thread_id.clone();
        let found = self.db.read(move |conn| store::compaction(conn, &thread)).await.map_err(PortError::host)?;
        Ok(found.map(|(summary, through)| Compaction { summary, through }))
    }

    async fn compact(&self, compaction: Compaction, folded: u32) -> PortResult<()> {
        let scope = self.scope.clone();
        let event = NewEvent::new(
            "compaction",
            &scope.deployment_id,
            json!({"through": compaction.through, "folded": folded, "summary_chars": compaction.summary.chars().count()}),
        )
        .scoped(Some(&scope.thread_id), Some(&scope.run_id));
        let thread = scope.thread_id.clone();
        let committed = self
            .hub
            .commit(&scope.deployment_id, move |conn| {
                let now = hermes_types::ids::now();
                store::set_compaction(conn, &thread, &compaction.summary, &compaction.through, &now)?;
                Ok(((), vec![event]))
            })
            .await;
        match committed {
            Ok(_) => Ok(()),
            Err(hermes_store::StoreError::NotFound(what)) => {
                Err(PortError::Guest(format!("cannot compact: no {what}")))
            }
            Err(e) => Err(PortError::host(e)),
        }
    }
}
