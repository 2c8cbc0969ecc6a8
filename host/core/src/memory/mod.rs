//! Observational memory: what a deployment's agent remembers across threads.
//!
//! One entry is one short observation (`mem_…`). Every write goes through
//! [`check`] — refusing instruction-like text ([`guard`]) and the deployment's secret
//! values — and through one `hub.commit`, so the `memory` event announcing it is
//! durable with it. Recall is FTS5 bm25, bounded in count and bytes
//! ([`hermes_store::memories`]). A forgotten entry leaves a tombstone: the agent may
//! store it again only when the customer repeats it in the run ([`relearn`]).

pub mod guard;
mod relearn;

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::HostError;
use crate::handle::Core;
use crate::secrets::Scrubber;
use hermes_events::EventHub;
use hermes_events::NewEvent;
use hermes_store::Db;
use hermes_store::StoreError;
use hermes_store::memories::{self as store, MemoryRow, MemorySource};
use hermes_types::paging::Page;

/// Longest memory, in bytes: an observation is a sentence or two.
pub const MAX_CONTENT_BYTES: usize = 2000;
/// Most entries one recall returns.
pub const MAX_RECALL: u32 = 50;
/// Most content bytes one recall returns (~2,000 tokens).
pub const RECALL_BUDGET_BYTES: usize = 8 * 1024;
/// Most memories a deployment keeps; adding beyond it is refused (forget or merge first).
pub const MAX_PER_DEPLOYMENT: u64 = 1_000_000;

/// A memory as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MemoryObject {
    /// `mem_…`
    pub memory_id: String,
    /// The observation.
    pub content: String,
    /// `agent` or `api`.
    pub source: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<MemoryRow> for MemoryObject {
    fn from(r: MemoryRow) -> Self {
        MemoryObject { memory_id: r.id, content: r.content, source: r.source.as_str().into(), created_at: r.created_at }
    }
}

/// Who is writing, and from which run (events are scoped to it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin<'a> {
    /// `agent` (a run or a dream) or `api`.
    pub source: MemorySource,
    /// The run's thread (absent for API writes and dreams).
    pub thread_id: Option<&'a str>,
    /// The run (or dream) writing.
    pub run_id: Option<&'a str>,
}

impl Origin<'static> {
    /// A write through the REST API or the library.
    pub(crate) const API: Origin<'static> = Origin { source: MemorySource::Api, thread_id: None, run_id: None };
}

/// The trimmed content, or why it cannot be stored (a 400 on `content`).
pub(crate) fn check(content: &str, secrets: &Scrubber) -> Result<String, HostError> {
    let content = content.trim();
    if content.is_empty() {
        return Err(HostError::invalid("content", "`content` must not be empty"));
    }
    if content.len() > MAX_CONTENT_BYTES {
        return Err(HostError::invalid(
            "content",
            format!("`content` is {} bytes; a memory holds at most {MAX_CONTENT_BYTES}", content.len()),
        ));
    }
    if let std::borrow::Cow::Owned(scrubbed) = secrets.scrub(content) {
        // The scrubber marks each value it found with `[REDACTED:NAME]`: name it (names are not secret).
        let name = scrubbed
            .split("[REDACTED:")
            .skip(1)
            .filter_map(|s| s.split(']').next())
            .find(|n| !content.contains(&format!("[REDACTED:{n}]")))
            .unwrap_or("?");
        return Err(HostError::invalid(
            "content",
            format!(
                "refused: it contains the value of the deployment's secret `{name}`; memories never hold secret values"
            ),
        ));
    }
    if let Some(reason) = guard::injection_reason(content) {
        return Err(HostError::invalid("content", format!("refused: {reason}")));
    }
    Ok(content.to_string())
}

fn event(deployment_id: &str, origin: Origin<'_>, action: &str, row: &MemoryRow) -> NewEvent {
    let mut payload = json!({"action": action, "memory_id": row.id, "source": origin.source.as_str()});
    if action != "forgotten" {
        payload["content"] = json!(row.content);
    }
    NewEvent::new("memory", deployment_id, payload).scoped(origin.thread_id, origin.run_id)
}

/// What an add came to.
enum Added {
    New(MemoryRow),
    /// The same observation was already stored.
    Existing(MemoryRow),
    /// The customer had it forgotten and has not repeated it.
    Forgotten(String),
    Full,
}

/// Stores an observation (after [`check`]); an identical one already stored is
/// returned instead of a duplicate.
pub(crate) async fn add(
    hub: &EventHub,
    deployment_id: &str,
    secrets: &Scrubber,
    content: &str,
    origin: Origin<'_>,
) -> Result<MemoryObject, HostError> {
    let content = check(content, secrets)?;
    let row = MemoryRow {
        id: hermes_types::ids::new_id("mem"),
        deployment_id: deployment_id.to_string(),
        content,
        source: origin.source,
        created_at: hermes_types::ids::now(),
    };
    let ev = event(deployment_id, origin, "added", &row);
    let run_id = (origin.source == MemorySource::Agent).then(|| origin.run_id.map(str::to_string)).flatten();
    let agent = origin.source == MemorySource::Agent;
    let dep = deployment_id.to_string();
    let (added, _) = hub
        .commit(deployment_id, move |conn| {
            let key = relearn::normalized(&row.content);
            if let Some(same) = store::recall(conn, &dep, &row.content, 5, usize::MAX)?
                .into_iter()
                .find(|m| relearn::normalized(&m.content) == key)
            {
                return Ok((Added::Existing(same), Vec::new()));
            }
            if agent
                && let Some(when) = relearn::forgotten_and_not_repeated(conn, &dep, &row.content, run_id.as_deref())?
            {
                return Ok((Added::Forgotten(when), Vec::new()));
            }
            if store::count(conn, &dep)? >= MAX_PER_DEPLOYMENT {
                return Ok((Added::Full, Vec::new()));
            }
            store::insert(conn, &row)?;
            Ok((Added::New(row), vec![ev]))
        })
        .await
        .map_err(HostError::from)?;
    match added {
        Added::New(r) | Added::Existing(r) => Ok(r.into()),
        Added::Forgotten(when) => Err(HostError::invalid(
            "content",
            format!(
                "refused: the customer had this forgotten on {when}; it is stored again only when the customer repeats it"
            ),
        )),
        Added::Full => Err(HostError::Conflict(format!(
            "the deployment holds {MAX_PER_DEPLOYMENT} memories; forget some before adding more"
        ))),
    }
}

/// Replaces a memory's content (after [`check`]).
pub(crate) async fn update(
    hub: &EventHub,
    deployment_id: &str,
    secrets: &Scrubber,
    id: &str,
    content: &str,
    origin: Origin<'_>,
) -> Result<MemoryObject, HostError> {
    let content = check(content, secrets)?;
    let (dep, id_owned, origin_owned) = (deployment_id.to_string(), id.to_string(), OwnedOrigin::from(origin));
    let (row, _) = hub
        .commit(deployment_id, move |conn| {
            if !store::update(conn, &dep, &id_owned, &content, &hermes_types::ids::now())? {
                return Ok((None, Vec::new()));
            }
            let row = store::get(conn, &dep, &id_owned)?.ok_or_else(|| StoreError::NotFound(id_owned.clone()))?;
            let ev = event(&dep, origin_owned.borrow(), "updated", &row);
            Ok((Some(row), vec![ev]))
        })
        .await
        .map_err(HostError::from)?;
    row.map(Into::into).ok_or_else(|| HostError::NotFound(format!("memory {id} not found")))
}

/// Deletes a memory, leaving a tombstone so the agent does not simply re-learn it.
pub(crate) async fn forget(hub: &EventHub, deployment_id: &str, id: &str, origin: Origin<'_>) -> Result<(), HostError> {
    let (dep, id_owned, origin_owned) = (deployment_id.to_string(), id.to_string(), OwnedOrigin::from(origin));
    let (found, _) = hub
        .commit(deployment_id, move |conn| {
            let Some(row) = store::forget(conn, &dep, &id_owned, &hermes_types::ids::now())? else {
                return Ok((false, Vec::new()));
            };
            Ok((true, vec![event(&dep, origin_owned.borrow(), "forgotten", &row)]))
        })
        .await
        .map_err(HostError::from)?;
    if found { Ok(()) } else { Err(HostError::NotFound(format!("memory {id} not found"))) }
}

/// The memories most relevant to `query`, bounded by `limit` (≤ [`MAX_RECALL`]) and
/// [`RECALL_BUDGET_BYTES`]; an empty query gives the newest.
pub(crate) async fn recall(db: &Db, deployment_id: &str, query: &str, limit: u32) -> Result<Vec<MemoryRow>, HostError> {
    let (dep, q, limit) = (deployment_id.to_string(), query.to_string(), limit.clamp(1, MAX_RECALL));
    Ok(db.read(move |conn| store::recall(conn, &dep, &q, limit, RECALL_BUDGET_BYTES)).await?)
}

/// [`Origin`] moved into a write closure.
struct OwnedOrigin {
    source: MemorySource,
    thread_id: Option<String>,
    run_id: Option<String>,
}

impl OwnedOrigin {
    fn borrow(&self) -> Origin<'_> {
        Origin { source: self.source, thread_id: self.thread_id.as_deref(), run_id: self.run_id.as_deref() }
    }
}

impl From<Origin<'_>> for OwnedOrigin {
    fn from(o: Origin<'_>) -> Self {
        OwnedOrigin {
            source: o.source,
            thread_id: o.thread_id.map(str::to_string),
            run_id: o.run_id.map(str::to_string),
        }
    }
}

impl Core {
    /// The secret values of a deployment, to refuse memories that contain one.
    async fn memory_scrubber(&self, d: &crate::Deployment) -> Result<Arc<Scrubber>, HostError> {
        Ok(Arc::new(crate::secrets::resolve(self.services(), &d.account_id, &d.spec.secrets).await?))
    }

    /// A page of a deployment's memories: newest first, or best match first for `query`.
    pub async fn list_memories(
        &self,
        account_id: &str,
        deployment_id: &str,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<MemoryObject>, HostError> {
        HostError::check_limit(limit)?;
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, q, cur) = (deployment_id.to_string(), query.map(str::to_string), cursor.map(str::to_string));
        let rows = self
            .services()
            .db
            .read(move |conn| {
                if let Some(c) = &cur
                    && store::get(conn, &dep, c)?.is_none()
                {
                    return Ok(None);
                }
                match &q {
                    Some(q) => store::search(conn, &dep, q, cur.as_deref(), limit + 1),
                    None => store::list(conn, &dep, cur.as_deref(), limit + 1),
                }
                .map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), MemoryObject::from))
    }

    /// One memory.
    pub async fn memory(
        &self,
        account_id: &str,
        deployment_id: &str,
        memory_id: &str,
    ) -> Result<MemoryObject, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, id) = (deployment_id.to_string(), memory_id.to_string());
        self.services()
            .db
            .read(move |conn| store::get(conn, &dep, &id))
            .await?
            .map(Into::into)
            .ok_or_else(|| HostError::NotFound(format!("memory {memory_id} not found")))
    }

    /// Stores a memory written by a client (`source: api`); refused (400) when it
    /// looks like an instruction to the model or holds a secret value.
    pub async fn add_memory(
        &self,
        account_id: &str,
        deployment_id: &str,
        content: &str,
    ) -> Result<MemoryObject, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        let secrets = self.memory_scrubber(&d).await?;
        add(&self.services().hub, deployment_id, &secrets, content, Origin::API).await
    }

    /// Replaces a memory's content (same checks as [`Host::add_memory`]).
    pub async fn update_memory(
        &self,
        account_id: &str,
        deployment_id: &str,
        memory_id: &str,
        content: &str,
    ) -> Result<MemoryObject, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        let secrets = self.memory_scrubber(&d).await?;
        update(&self.services().hub, deployment_id, &secrets, memory_id, content, Origin::API).await
    }

    /// Deletes a memory; the agent does not store it again unless the customer repeats it.
    pub async fn forget_memory(&self, account_id: &str, deployment_id: &str, memory_id: &str) -> Result<(), HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        forget(&self.services().hub, deployment_id, memory_id, Origin::API).await
    }

    /// What a run would recall for `query` (bm25-ranked, bounded), as the memory import does.
    pub async fn recall_memories(
        &self,
        deployment_id: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<MemoryObject>, HostError> {
        Ok(recall(&self.services().db, deployment_id, query, limit).await?.into_iter().map(Into::into).collect())
    }
}
