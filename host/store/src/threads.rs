//! The `threads` and `messages` aggregates: the transcript that is a run's state.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::Tx;
use hermes_types::spec::DeploymentSpec;
use hermes_types::status::RunStatus;

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
    /// Files the user attached (user messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file attached to a user message, by URL (validated as http(s) on the way in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// `image` | `video` | `audio` | `file`: the hosted API's kind of attachment.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<AttachmentKind>,
    /// `http(s)://…`
    pub url: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type, as the sender declared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// What an attachment is, in the hosted API's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    /// A picture (sent to vision models as an image part).
    Image,
    /// A video.
    Video,
    /// A sound recording.
    Audio,
    /// Any other file.
    File,
}

impl AttachmentKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::Video => "video",
            AttachmentKind::Audio => "audio",
            AttachmentKind::File => "file",
        }
    }
}

impl MessageRow {
    /// The text the model sees: the content, then a short list of attachments.
    pub fn model_content(&self) -> String {
        if self.attachments.is_empty() {
            return self.content.clone();
        }
        let mut out = self.content.clone();
        out.push_str(ATTACHMENTS_HEADING);
        for a in &self.attachments {
            out.push_str("\n- ");
            if let Some(n) = &a.name {
                out.push_str(n);
                out.push_str(": ");
            }
            out.push_str(&a.url);
            // The declared MIME type, else the hosted kind.
            if let Some(t) = a.content_type.as_deref().or(a.kind.map(AttachmentKind::as_str)) {
                out.push_str(&format!(" ({t})"));
            }
        }
        out
    }
}

/// Heading of the attachment list [`MessageRow::model_content`] appends.
const ATTACHMENTS_HEADING: &str = "\n\nAttachments:";

/// The image URLs of the attachment list [`MessageRow::model_content`] wrote at the
/// end of `text` (the inverse of that format, kept beside it): attachments whose
/// declared type is `image/…`, or, undeclared, whose path ends in an image extension.
pub fn attached_images(text: &str) -> Vec<String> {
    let Some(at) = text.rfind(ATTACHMENTS_HEADING) else { return Vec::new() };
    let mut images = Vec::new();
    for line in text[at + ATTACHMENTS_HEADING.len()..].lines().filter_map(|l| l.strip_prefix("- ")) {
        // `name: url (type)`, `url (type)` or `url`: the URL starts at the line or
        // after `: `, and holds no space.
        let start = ["https://", "http://"]
            .iter()
            .filter_map(|scheme| {
                if line.starts_with(scheme) { Some(0) } else { line.find(&format!(": {scheme}")).map(|i| i + 2) }
            })
            .min();
        let Some(start) = start else { continue };
        let rest = &line[start..];
        let (url, declared) = match rest.split_once(' ') {
            Some((url, t)) => (url, t.strip_prefix('(').and_then(|t| t.strip_suffix(')'))),
            None => (rest, None),
        };
        let image = match declared {
            Some(t) => {
                let t = t.trim().to_ascii_lowercase();
                t == "image" || t.starts_with("image/")
            }
            None => {
                let path = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
                [".png", ".jpg", ".jpeg", ".gif", ".webp"].iter().any(|e| path.ends_with(e))
            }
        };
        if image {
            images.push(url.to_string());
        }
    }
    images
}

/// Appends a message.
pub fn insert_message(tx: &Tx<'_>, m: &MessageRow) -> Result<(), StoreError> {
    let conn = tx.sql();
    let calls = if m.tool_calls.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&m.tool_calls).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    };
    let attachments = if m.attachments.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&m.attachments).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    };
    conn.prepare_cached(
        "INSERT INTO messages (id, thread_id, run_id, role, content, tool_calls, tool_call_id, is_error, delivered, created_at, attachments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        m.id,
        m.thread_id,
        m.run_id,
        m.role.as_str(),
        m.content,
        calls,
        m.tool_call_id,
        m.is_error,
        m.delivered,
        m.created_at,
        attachments
    ])?;
    Ok(())
}

const MESSAGE_COLUMNS: &str =
    "id, thread_id, run_id, role, content, tool_calls, tool_call_id, is_error, delivered, created_at, attachments";

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
    let attachments: Option<String> = r.get(10)?;
    let attachments = match attachments {
        Some(a) => match serde_json::from_str(&a) {
            Ok(v) => v,
            Err(e) => return Ok(Err(StoreError::Corrupt(format!("attachments: {e}")))),
        },
        None => Vec::new(),
    };
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
        attachments,
    }))
}

/// The thread's latest `limit` delivered messages, oldest first.
pub fn history(tx: &Tx<'_>, thread_id: &str, limit: u32) -> Result<Vec<MessageRow>, StoreError> {
    let conn = tx.sql();
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
pub fn take_undelivered(tx: &Tx<'_>, thread_id: &str, run_id: &str) -> Result<Vec<MessageRow>, StoreError> {
    let conn = tx.sql();
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
            insert_message(tx, m)?;
        }
    }
    Ok(out)
}

/// Whether the thread exists and belongs to the deployment.
pub fn thread_exists(tx: &Tx<'_>, deployment_id: &str, thread_id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
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
    tx: &Tx<'_>,
    deployment_id: &str,
    thread_id: &str,
    title: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO threads (id, deployment_id, title, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![thread_id, deployment_id, title, now],
    )?;
    Ok(())
}

/// A stored thread.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreadRow {
    /// `thr_…`
    pub id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Optional title.
    pub title: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The status of the run holding the thread (queued, running or waiting), if any.
    pub active_run: Option<RunStatus>,
    /// User and agent messages (what the history shows).
    pub message_count: u64,
    /// RFC 3339: the newest message, or the creation when there is none.
    pub last_activity_at: String,
}

/// The columns of a [`ThreadRow`], from `threads t`: activity is computed, not stored,
/// so it can never drift from the messages and runs.
const THREAD_COLUMNS: &str = "t.id, t.deployment_id, t.title, t.created_at,
    (SELECT r.status FROM runs r WHERE r.thread_id = t.id
        AND r.status IN ('queued', 'running', 'waiting_on_human', 'waiting_on_subagents')
        ORDER BY r.created_at LIMIT 1),
    (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id AND m.role IN ('user', 'assistant')),
    COALESCE((SELECT MAX(m.created_at) FROM messages m WHERE m.thread_id = t.id), t.created_at)";

fn thread_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ThreadRow, StoreError>> {
    let status: Option<String> = r.get(4)?;
    let active_run = match status {
        None => None,
        Some(s) => match RunStatus::parse(&s) {
            Some(st) => Some(st),
            None => return Ok(Err(StoreError::Corrupt(format!("run status {s:?}")))),
        },
    };
    Ok(Ok(ThreadRow {
        id: r.get(0)?,
        deployment_id: r.get(1)?,
        title: r.get(2)?,
        created_at: r.get(3)?,
        active_run,
        message_count: r.get::<_, i64>(5)? as u64,
        last_activity_at: r.get(6)?,
    }))
}

/// Deletes a thread and its messages; false when it does not exist.
pub fn delete_thread(tx: &Tx<'_>, deployment_id: &str, thread_id: &str) -> Result<bool, StoreError> {
    Ok(tx
        .sql()
        .execute("DELETE FROM threads WHERE id = ?1 AND deployment_id = ?2", params![thread_id, deployment_id])?
        == 1)
}

/// Loads a thread of a deployment.
pub fn get_thread(tx: &Tx<'_>, deployment_id: &str, thread_id: &str) -> Result<Option<ThreadRow>, StoreError> {
    tx.sql()
        .prepare_cached(&format!("SELECT {THREAD_COLUMNS} FROM threads t WHERE t.id = ?1 AND t.deployment_id = ?2"))?
        .query_row(params![thread_id, deployment_id], thread_from_row)
        .optional()?
        .transpose()
}

/// One page of a deployment's threads, newest first, after the thread `cursor`.
pub fn list_threads(
    tx: &Tx<'_>,
    deployment_id: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<ThreadRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {THREAD_COLUMNS} FROM threads t
         WHERE t.deployment_id = ?1
           AND (?2 IS NULL OR (t.created_at, t.rowid) < (SELECT created_at, rowid FROM threads WHERE id = ?2 AND deployment_id = ?1))
         ORDER BY t.created_at DESC, t.rowid DESC
         LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![deployment_id, cursor, limit], thread_from_row)?;
    rows.map(|r| r?).collect()
}

/// Sets (or clears) a thread's title; false when the thread does not exist.
pub fn set_title(tx: &Tx<'_>, deployment_id: &str, thread_id: &str, title: Option<&str>) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute(
        "UPDATE threads SET title = ?3 WHERE id = ?1 AND deployment_id = ?2",
        params![thread_id, deployment_id, title],
    )? == 1)
}

/// Whether `message_id` is a message of `thread_id`.
pub fn message_in_thread(tx: &Tx<'_>, thread_id: &str, message_id: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row(
            "SELECT 1 FROM messages WHERE id = ?1 AND thread_id = ?2",
            params![message_id, thread_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The conversation of a thread as people read it — user messages (steering input
/// included) and agent messages, without tool results — oldest first, after the
/// message `cursor`, at most `limit`.
pub fn conversation(
    tx: &Tx<'_>,
    thread_id: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<MessageRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE thread_id = ?1 AND role IN ('user', 'assistant')
           AND (?2 IS NULL OR seq > (SELECT seq FROM messages WHERE id = ?2 AND thread_id = ?1))
         ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![thread_id, cursor, limit], message_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

/// The latest compaction of a thread: `(summary, through entry id)`.
pub fn compaction(tx: &Tx<'_>, thread_id: &str) -> Result<Option<(String, String)>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .prepare_cached("SELECT summary, through_id FROM thread_compactions WHERE thread_id = ?1")?
        .query_row(params![thread_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Replaces a thread's compaction; `through` must be one of its entries.
pub fn set_compaction(tx: &Tx<'_>, thread_id: &str, summary: &str, through: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    let known = conn
        .prepare_cached("SELECT 1 FROM messages WHERE thread_id = ?1 AND id = ?2")?
        .query_row(params![thread_id, through], |_| Ok(()))
        .optional()?
        .is_some();
    if !known {
        return Err(StoreError::NotFound(format!("entry {through} of thread {thread_id}")));
    }
    conn.execute(
        "INSERT INTO thread_compactions (thread_id, through_id, summary, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(thread_id) DO UPDATE SET through_id = excluded.through_id, summary = excluded.summary,
         created_at = excluded.created_at",
        params![thread_id, through, summary, now],
    )?;
    Ok(())
}

/// Pins the configuration a thread's runs use instead of their deployment's (a
/// session runs under its agent version); `None` unpins.
pub fn set_spec(tx: &Tx<'_>, thread_id: &str, spec: Option<&DeploymentSpec>) -> Result<(), StoreError> {
    let text = spec
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("thread configuration: {e}")))?;
    tx.sql().execute("UPDATE threads SET spec = ?2 WHERE id = ?1", params![thread_id, text])?;
    Ok(())
}

/// The configuration a thread is pinned to, if any.
pub fn pinned_spec(tx: &Tx<'_>, thread_id: &str) -> Result<Option<DeploymentSpec>, StoreError> {
    let text: Option<String> = tx
        .sql()
        .prepare_cached("SELECT spec FROM threads WHERE id = ?1")?
        .query_row(params![thread_id], |r| r.get(0))
        .optional()?
        .flatten();
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("thread configuration: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(content: &str, attachments: Vec<Attachment>) -> MessageRow {
        MessageRow {
            id: "msg_1".into(),
            thread_id: "thr_1".into(),
            run_id: None,
            role: Role::User,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            is_error: false,
            delivered: true,
            created_at: String::new(),
            attachments,
        }
    }

    fn att(url: &str, name: Option<&str>, content_type: Option<&str>) -> Attachment {
        Attachment {
            kind: None,
            url: url.into(),
            name: name.map(Into::into),
            content_type: content_type.map(Into::into),
        }
    }

    #[test]
    fn the_images_of_an_attachment_list_are_read_back_from_the_text_the_model_sees() {
        let m = row(
            "Compare these: a: https://evil.test/x.png",
            vec![
                att("https://files.test/q3.pdf", Some("q3.pdf"), Some("application/pdf")),
                att("https://files.test/chart", Some("chart: v2"), Some("IMAGE/PNG")),
                att("https://files.test/photo.JPG?size=large", None, None),
                att("https://files.test/notes.txt", Some("notes"), None),
                att("http://files.test/b.webp", Some("b"), Some("image/webp")),
                Attachment { kind: Some(AttachmentKind::Image), ..att("https://files.test/hosted", None, None) },
                Attachment { kind: Some(AttachmentKind::Video), ..att("https://files.test/clip.gif.mp4", None, None) },
            ],
        );
        assert_eq!(
            attached_images(&m.model_content()),
            [
                "https://files.test/chart",
                "https://files.test/photo.JPG?size=large",
                "http://files.test/b.webp",
                "https://files.test/hosted"
            ],
            "only the list's images; a URL in the message text is not one"
        );
        assert!(attached_images(&row("no list here", Vec::new()).model_content()).is_empty());
    }
}
