//! Threads (sessions) and their message history, as REST clients see them.

use serde::Serialize;
use serde_json::{Value, json};

use crate::HostError;
use crate::handle::Core;
use hermes_store::threads::{self, Attachment, MessageRow, Role, ThreadRow};
use hermes_types::paging::Page;

/// Longest thread title.
const MAX_TITLE: usize = 200;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 20;
/// Longest attachment URL.
const MAX_URL: usize = 2048;

/// A thread as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Thread {
    /// `thr_…`
    pub thread_id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Optional title.
    pub title: Option<String>,
    /// Whether this is the deployment's default thread (messages without `thread_id`).
    pub is_default: bool,
    /// `idle` | `running` | `waiting_on_human`: where the thread's current run stands
    /// (the hosted session statuses; a run waiting for a slot or for its subagents
    /// is `running`).
    pub status: &'static str,
    /// User and agent messages in its history.
    pub message_count: u64,
    /// RFC 3339: its newest message, or its creation.
    pub last_activity_at: String,
    /// RFC 3339.
    pub created_at: String,
}

/// One message of a thread's history: `user` or `agent`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreadMessage {
    /// `msg_…`
    pub message_id: String,
    /// `user` | `agent`
    pub role: &'static str,
    /// Text.
    pub content: String,
    /// The run that wrote it (agent) or that it started or steered (user).
    pub run_id: Option<String>,
    /// Tool calls an agent message made (`[{call_id, tool, arguments}]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<Value>,
    /// Files attached to a user message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// RFC 3339.
    pub created_at: String,
}

/// One entry of a thread's transcript, as the embedding API shows it: what the
/// harness reads back, tool results included (the Threads API shows a shorter view).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TranscriptEntry {
    /// `msg_…`
    pub id: String,
    /// The run that wrote it (or that a user message started or steered).
    pub run_id: Option<String>,
    /// Who wrote it.
    pub role: TranscriptRole,
    /// Text.
    pub content: String,
    /// Tool calls of an agent message: `(call id, tool, JSON arguments)`.
    pub tool_calls: Vec<(String, String, String)>,
    /// For a tool result: the call it answers.
    pub tool_call_id: Option<String>,
    /// For a tool result: whether the tool failed.
    pub is_error: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// The author of a transcript entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptRole {
    /// The customer (or the host on their behalf).
    User,
    /// The agent.
    Agent,
    /// A tool's result.
    Tool,
}

impl From<MessageRow> for TranscriptEntry {
    fn from(m: MessageRow) -> TranscriptEntry {
        TranscriptEntry {
            id: m.id,
            run_id: m.run_id,
            role: match m.role {
                Role::User => TranscriptRole::User,
                Role::Assistant => TranscriptRole::Agent,
                Role::Tool => TranscriptRole::Tool,
            },
            content: m.content,
            tool_calls: m.tool_calls.into_iter().map(|c| (c.id, c.name, c.arguments)).collect(),
            tool_call_id: m.tool_call_id,
            is_error: m.is_error,
            created_at: m.created_at,
        }
    }
}

impl ThreadMessage {
    fn from_row(m: MessageRow) -> ThreadMessage {
        let tool_calls = m
            .tool_calls
            .iter()
            .map(|c| {
                let args = serde_json::from_str::<Value>(&c.arguments).unwrap_or(Value::String(c.arguments.clone()));
                json!({"call_id": c.id, "tool": c.name, "arguments": args})
            })
            .collect();
        ThreadMessage {
            message_id: m.id,
            role: if m.role == Role::User { "user" } else { "agent" },
            content: m.content,
            run_id: m.run_id,
            tool_calls,
            attachments: m.attachments,
            created_at: m.created_at,
        }
    }
}

fn validate_title(title: Option<&str>) -> Result<Option<String>, HostError> {
    let Some(t) = title else { return Ok(None) };
    let t = t.trim();
    if t.chars().count() > MAX_TITLE {
        return Err(HostError::invalid("title", format!("`title` is at most {MAX_TITLE} characters")));
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

/// Validates attachments: at most [`MAX_ATTACHMENTS`], each an absolute `http(s)` URL.
pub fn validate_attachments(attachments: &[Attachment]) -> Result<(), HostError> {
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(HostError::invalid("attachments", format!("at most {MAX_ATTACHMENTS} attachments per message")));
    }
    for (i, a) in attachments.iter().enumerate() {
        let param = format!("attachments[{i}].url");
        if a.url.len() > MAX_URL {
            return Err(HostError::invalid(&param, format!("the URL is longer than {MAX_URL} bytes")));
        }
        match url::Url::parse(&a.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => return Err(HostError::invalid(&param, "the URL must be an http:// or https:// URL")),
            Err(e) => return Err(HostError::invalid(&param, format!("not a valid URL: {e}"))),
        }
        if a.name.as_deref().is_some_and(|n| n.len() > 256 || n.contains('\n')) {
            return Err(HostError::invalid(&format!("attachments[{i}].name"), "at most 256 bytes on one line"));
        }
        if a.content_type.as_deref().is_some_and(|t| t.len() > 128 || t.contains('\n')) {
            return Err(HostError::invalid(&format!("attachments[{i}].content_type"), "at most 128 bytes on one line"));
        }
    }
    Ok(())
}

impl Core {
    fn thread_object(&self, row: ThreadRow, default_thread: &str) -> Thread {
        let status = match row.active_run {
            None => "idle",
            Some(hermes_types::status::RunStatus::WaitingOnHuman) => "waiting_on_human",
            Some(_) => "running",
        };
        Thread {
            is_default: row.id == default_thread,
            thread_id: row.id,
            deployment_id: row.deployment_id,
            title: row.title,
            status,
            message_count: row.message_count,
            last_activity_at: row.last_activity_at,
            created_at: row.created_at,
        }
    }

    async fn default_thread_of(&self, account_id: &str, deployment_id: &str) -> Result<String, HostError> {
        let dep = self.deployment_in(account_id, deployment_id).await?;
        let id = dep.deployment_id.clone();
        let row = self
            .services()
            .db
            .read(move |conn| hermes_store::deployments::get(conn, &id))
            .await?
            .ok_or_else(|| HostError::NotFound(format!("deployment {deployment_id} not found")))?;
        Ok(row.default_thread_id)
    }

    /// Creates a thread in a deployment of `account_id`.
    pub async fn create_thread(
        &self,
        account_id: &str,
        deployment_id: &str,
        title: Option<&str>,
    ) -> Result<Thread, HostError> {
        let default = self.default_thread_of(account_id, deployment_id).await?;
        let title = validate_title(title)?;
        let (dep, id) = (deployment_id.to_string(), hermes_types::ids::new_id("thr"));
        let row = self
            .services()
            .db
            .write(move |conn| {
                threads::insert_thread(conn, &dep, &id, title.as_deref(), &hermes_types::ids::now())?;
                threads::get_thread(conn, &dep, &id)?.ok_or_else(|| hermes_store::StoreError::NotFound(id))
            })
            .await?;
        Ok(self.thread_object(row, &default))
    }

    /// Lists a deployment's threads, newest first; `cursor` is the last thread id of
    /// the previous page.
    pub async fn list_threads(
        &self,
        account_id: &str,
        deployment_id: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Thread>, HostError> {
        HostError::check_limit(limit)?;
        let default = self.default_thread_of(account_id, deployment_id).await?;
        let (dep, cur) = (deployment_id.to_string(), cursor.map(str::to_string));
        let rows = self
            .services()
            .db
            .read(move |conn| {
                if let Some(c) = &cur
                    && !threads::thread_exists(conn, &dep, c)?
                {
                    return Ok(None);
                }
                threads::list_threads(conn, &dep, cur.as_deref(), limit + 1).map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), |r| self.thread_object(r, &default)))
    }

    /// One thread of a deployment of `account_id`.
    pub async fn thread(&self, account_id: &str, deployment_id: &str, thread_id: &str) -> Result<Thread, HostError> {
        let default = self.default_thread_of(account_id, deployment_id).await?;
        let (dep, id) = (deployment_id.to_string(), thread_id.to_string());
        let row = self
            .services()
            .db
            .read(move |conn| threads::get_thread(conn, &dep, &id))
            .await?
            .ok_or_else(|| HostError::NotFound(format!("thread {thread_id} not found")))?;
        Ok(self.thread_object(row, &default))
    }

    /// A thread's conversation (user and agent messages, oldest first); `cursor` is
    /// the last message id of the previous page.
    pub async fn thread_history(
        &self,
        account_id: &str,
        deployment_id: &str,
        thread_id: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ThreadMessage>, HostError> {
        HostError::check_limit(limit)?;
        self.thread(account_id, deployment_id, thread_id).await?;
        let (id, cur) = (thread_id.to_string(), cursor.map(str::to_string));
        let rows = self
            .services()
            .db
            .read(move |conn| {
                if let Some(c) = &cur
                    && !threads::message_in_thread(conn, &id, c)?
                {
                    return Ok(None);
                }
                threads::conversation(conn, &id, cur.as_deref(), limit + 1).map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        Ok(Page::cut(rows, limit, |m| m.id.clone(), ThreadMessage::from_row))
    }

    /// Renames a thread (`None` or blank clears the title).
    pub async fn set_thread_title(
        &self,
        account_id: &str,
        deployment_id: &str,
        thread_id: &str,
        title: Option<&str>,
    ) -> Result<Thread, HostError> {
        let default = self.default_thread_of(account_id, deployment_id).await?;
        let title = validate_title(title)?;
        let (dep, id) = (deployment_id.to_string(), thread_id.to_string());
        let row = self
            .services()
            .db
            .write(move |conn| {
                if !threads::set_title(conn, &dep, &id, title.as_deref())? {
                    return Ok(None);
                }
                threads::get_thread(conn, &dep, &id)
            })
            .await?
            .ok_or_else(|| HostError::NotFound(format!("thread {thread_id} not found")))?;
        Ok(self.thread_object(row, &default))
    }
}
