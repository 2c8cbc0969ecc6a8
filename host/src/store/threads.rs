//! The `threads` and `messages` aggregates: the transcript that is a run's state.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The human or the vendor's backend.
    User,
    /// The agent.
    Assistant,
    /// A tool result.
    Tool,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => return Err(StoreError::Corrupt(format!("message role {other:?}"))),
        })
    }
}

/// A tool call inside an assistant message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredToolCall {
    /// Provider-assigned id.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// JSON arguments as the model wrote them.
    pub arguments: String,
}

/// One persisted message of a thread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageRow {
    /// `msg_…`
    pub id: String,
    /// Thread it belongs to.
    pub thread_id: String,
    /// The run that wrote it (for user messages: the run they started or steered).
    pub run_id: Option<String>,
    /// Author.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Tool calls of an assistant message.
    pub tool_calls: Vec<StoredToolCall>,
    /// For tool messages: the call answered.
    pub tool_call_id: Option<String>,
    /// For tool messages: whether the tool failed.
    pub is_error: bool,
    /// False for steering input the run has not taken yet.
    pub delivered: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// Appends a message.
pub fn insert_message(conn: &Connection, m: &MessageRow) -> Result<(), StoreError> {
    let calls = if m.tool_calls.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&m.tool_calls).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    };
    conn.execute(
        "INSERT INTO messages (id, thread_id, run_id, role, content, tool_calls, tool_call_id, is_error, delivered, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            m.id,
            m.thread_id,
            m.run_id,
            m.role.as_str(),
            m.content,
            calls,
            m.tool_call_id,
            m.is_error,
            m.delivered,
            m.created_at
        ],
    )?;
    Ok(())
}

const MESSAGE_COLUMNS: &str =
    "id, thread_id, run_id, role, content, tool_calls, tool_call_id, is_error, delivered, created_at";

fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<MessageRow, StoreError>> {
    let role: String = r.get(3)?;
    let calls: Option<String> = r.get(5)?;
    let build = move |role: String, calls: Option<String>| -> Result<(Role, Vec<StoredToolCall>), StoreError> {
        let calls = match calls {
            Some(c) => serde_json::from_str(&c).map_err(|e| StoreError::Corrupt(format!("tool calls: {e}")))?,
            None => Vec::new(),
        };
        Ok((Role::parse(&role)?, calls))
    };
    let id: String = r.get(0)?;
    let thread_id: String = r.get(1)?;
    let run_id: Option<String> = r.get(2)?;
    let content: String = r.get(4)?;
    let tool_call_id: Option<String> = r.get(6)?;
    let is_error: bool = r.get(7)?;
    let delivered: bool = r.get(8)?;
    let created_at: String = r.get(9)?;
    Ok(build(role, calls).map(|(role, tool_calls)| MessageRow {
        id,
        thread_id,
        run_id,
        role,
        content,
        tool_calls,
        tool_call_id,
        is_error,
        delivered,
        created_at,
    }))
}

/// The thread's latest `limit` delivered messages, oldest first.
pub fn history(conn: &Connection, thread_id: &str, limit: u32) -> Result<Vec<MessageRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM (
             SELECT * FROM messages WHERE thread_id = ?1 AND delivered = 1 ORDER BY seq DESC LIMIT ?2
         ) ORDER BY seq ASC"
    ))?;
    let rows = stmt.query_map(params![thread_id, limit], message_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

/// Marks undelivered user messages of `thread_id` as delivered to `run_id` and
/// returns them (steering input taken by a running run).
pub fn take_undelivered(conn: &Connection, thread_id: &str, run_id: &str) -> Result<Vec<MessageRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ?1 AND delivered = 0 ORDER BY seq"
    ))?;
    let mut out = Vec::new();
    for row in stmt.query_map(params![thread_id], message_from_row)? {
        out.push(row??);
    }
    if !out.is_empty() {
        // Re-sequence them after everything the run wrote so far, so the
        // transcript reads in the order the model saw it.
        for m in &mut out {
            conn.execute("DELETE FROM messages WHERE id = ?1", params![m.id])?;
            m.delivered = true;
            m.run_id = Some(run_id.to_string());
            insert_message(conn, m)?;
        }
    }
    Ok(out)
}

/// Whether the thread exists and belongs to the deployment.
pub fn thread_exists(conn: &Connection, deployment_id: &str, thread_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM threads WHERE id = ?1 AND deployment_id = ?2",
            params![thread_id, deployment_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Creates a thread.
pub fn insert_thread(
    conn: &Connection,
    deployment_id: &str,
    thread_id: &str,
    title: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO threads (id, deployment_id, title, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![thread_id, deployment_id, title, crate::ids::now()],
    )?;
    Ok(())
}
