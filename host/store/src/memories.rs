//! The `memories` aggregate: a deployment's observations, full-text indexed (FTS5,
//! porter stemming) and recalled by bm25 rank; tombstones of forgotten entries; dreams.
//!
//! Scoping and cost: every indexed word is prefixed with a 6-letter tag derived from
//! the deployment id (`abcdefinvoice`), so each deployment has its own vocabulary and
//! a `MATCH` walks only its own postings, and bm25's IDF is per deployment. A query
//! keeps its rarest terms up to [`MATCH_BUDGET`] postings (very common words add
//! little to bm25 and most of its cost), so recall stays in the low milliseconds at
//! 100,000 entries (`cargo bench -p hermes-tests --bench memory`). Rows are still
//! joined on `deployment_id`, so a tag collision costs speed, never correctness.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::StoreError;
use crate::Tx;

/// Terms of a query used at most (the rest are ignored).
pub const MAX_QUERY_TERMS: usize = 16;

/// Who wrote a memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// The agent (a memory tool, the observation pass, a dream).
    Agent,
    /// A client through the REST API (or the embedding host).
    Api,
}

impl MemorySource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MemorySource::Agent => "agent",
            MemorySource::Api => "api",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "agent" => Ok(MemorySource::Agent),
            "api" => Ok(MemorySource::Api),
            other => Err(StoreError::Corrupt(format!("memory source {other:?}"))),
        }
    }
}

/// One stored memory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoryRow {
    /// `mem_…`
    pub id: String,
    /// Owning deployment.
    #[serde(skip)]
    pub deployment_id: String,
    /// The observation.
    pub content: String,
    /// Who wrote it.
    pub source: MemorySource,
    /// RFC 3339.
    pub created_at: String,
}

const COLUMNS: &str = "m.id, m.deployment_id, m.content, m.source, m.created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(String, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn build(
    (id, deployment_id, content, source, created_at): (String, String, String, String, String),
) -> Result<MemoryRow, StoreError> {
    Ok(MemoryRow { id, deployment_id, content, source: MemorySource::parse(&source)?, created_at })
}

/// Postings a ranked query may walk: rarer terms are kept until their document
/// counts add up to this (the rarest is always kept).
pub const MATCH_BUDGET: i64 = 1000;

/// The deployment's 6-letter token prefix (FNV-1a of its id, base 26).
fn tag(deployment_id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in deployment_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let c = (b'a' + (h % 26) as u8) as char;
            h /= 26;
            c
        })
        .collect()
}

/// What the FTS table indexes for `content`: each word, prefixed with the tag.
fn index_text(deployment_id: &str, content: &str) -> String {
    let tag = tag(deployment_id);
    let mut out = String::with_capacity(content.len() * 2);
    for word in content.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&tag);
        out.push_str(word);
    }
    out
}

/// The words of `text` an FTS query can use: alphanumeric runs (Unicode), at most
/// [`MAX_QUERY_TERMS`], each quoted so no FTS5 syntax can come from the caller.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.chars().count() < 2 {
            continue;
        }
        let w = word.to_lowercase();
        if STOPWORDS.contains(&w.as_str()) || terms.contains(&w) {
            continue;
        }
        terms.push(w);
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    terms
}

/// Words too common to rank by.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "for", "from", "has", "have", "he", "her",
    "his", "how", "i", "if", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so",
    "that", "the", "their", "them", "then", "there", "they", "this", "to", "us", "was", "we", "what", "when", "which",
    "who", "why", "will", "with", "you", "your",
];

/// `"<tag>t1" OR "<tag>t2" …` over the rarest terms of `text` (see [`MATCH_BUDGET`]),
/// or `None` when no term of it occurs in the deployment's memories.
fn match_expr(conn: &Connection, deployment_id: &str, text: &str) -> Result<Option<String>, StoreError> {
    let tag = tag(deployment_id);
    let mut counted = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?1")?;
    for term in query_terms(text) {
        let phrase = format!("\"{tag}{term}\"");
        let n: i64 = stmt.query_row(params![phrase], |r| r.get(0))?;
        if n > 0 {
            counted.push((n, phrase));
        }
    }
    counted.sort();
    let mut kept = Vec::new();
    let mut postings = 0;
    for (n, phrase) in counted {
        if !kept.is_empty() && postings + n > MATCH_BUDGET {
            break;
        }
        postings += n;
        kept.push(phrase);
    }
    Ok((!kept.is_empty()).then(|| kept.join(" OR ")))
}

/// Stores a new memory.
pub fn insert(tx: &Tx<'_>, m: &MemoryRow) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO memories (id, deployment_id, content, source, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![m.id, m.deployment_id, m.content, m.source.as_str(), m.created_at],
    )?;
    conn.prepare_cached("INSERT INTO memories_fts (rowid, terms) VALUES (?1, ?2)")?
        .execute(params![conn.last_insert_rowid(), index_text(&m.deployment_id, &m.content)])?;
    Ok(())
}

/// One memory of a deployment.
pub fn get(tx: &Tx<'_>, deployment_id: &str, id: &str) -> Result<Option<MemoryRow>, StoreError> {
    let conn = tx.sql();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM memories m WHERE m.id = ?1 AND m.deployment_id = ?2"),
        params![id, deployment_id],
        from_row,
    )
    .optional()?
    .map(build)
    .transpose()
}

/// Replaces a memory's content; false when it does not exist.
pub fn update(tx: &Tx<'_>, deployment_id: &str, id: &str, content: &str, now: &str) -> Result<bool, StoreError> {
    let conn = tx.sql();
    let seq: Option<i64> = conn
        .query_row(
            "UPDATE memories SET content = ?3, updated_at = ?4 WHERE id = ?1 AND deployment_id = ?2 RETURNING seq",
            params![id, deployment_id, content, now],
            |r| r.get(0),
        )
        .optional()?;
    let Some(seq) = seq else { return Ok(false) };
    conn.execute(
        "UPDATE memories_fts SET terms = ?2 WHERE rowid = ?1",
        params![seq, index_text(deployment_id, content)],
    )?;
    Ok(true)
}

/// Deletes a memory and records a tombstone of its content; the deleted row, if any.
pub fn forget(tx: &Tx<'_>, deployment_id: &str, id: &str, now: &str) -> Result<Option<MemoryRow>, StoreError> {
    let conn = tx.sql();
    let Some(row) = get(tx, deployment_id, id)? else { return Ok(None) };
    conn.execute("DELETE FROM memories WHERE id = ?1", params![id])?;
    conn.execute(
        "INSERT INTO memory_tombstones (deployment_id, content, deleted_at) VALUES (?1, ?2, ?3)",
        params![deployment_id, row.content, now],
    )?;
    Ok(Some(row))
}

/// Number of memories of a deployment.
pub fn count(tx: &Tx<'_>, deployment_id: &str) -> Result<u64, StoreError> {
    let conn = tx.sql();
    Ok(conn.query_row("SELECT count(*) FROM memories WHERE deployment_id = ?1", params![deployment_id], |r| {
        r.get::<_, i64>(0)
    })? as u64)
}

/// The entries most relevant to `query` (bm25, best first), at most `limit` and at
/// most `max_bytes` of content in total; an empty query gives the newest entries.
pub fn recall(
    tx: &Tx<'_>,
    deployment_id: &str,
    query: &str,
    limit: u32,
    max_bytes: usize,
) -> Result<Vec<MemoryRow>, StoreError> {
    let conn = tx.sql();
    let rows = match match_expr(conn, deployment_id, query)? {
        Some(expr) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM memories_fts f JOIN memories m ON m.seq = f.rowid AND m.deployment_id = ?3
                 WHERE memories_fts MATCH ?1 ORDER BY bm25(memories_fts) LIMIT ?2"
            ))?;
            stmt.query_map(params![expr, limit, deployment_id], from_row)?.collect::<Result<Vec<_>, _>>()?
        }
        None if query.trim().is_empty() => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM memories m WHERE m.deployment_id = ?1 ORDER BY m.seq DESC LIMIT ?2"
            ))?;
            stmt.query_map(params![deployment_id, limit], from_row)?.collect::<Result<Vec<_>, _>>()?
        }
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    for r in rows {
        bytes += r.2.len();
        if bytes > max_bytes && !out.is_empty() {
            break;
        }
        out.push(build(r)?);
    }
    Ok(out)
}

/// One page of a deployment's memories, newest first, after the memory `cursor`.
pub fn list(tx: &Tx<'_>, deployment_id: &str, cursor: Option<&str>, limit: u32) -> Result<Vec<MemoryRow>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories m WHERE m.deployment_id = ?1
           AND (?2 IS NULL OR m.seq < (SELECT seq FROM memories WHERE id = ?2 AND deployment_id = ?1))
         ORDER BY m.seq DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![deployment_id, cursor, limit], from_row)?;
    rows.map(|r| build(r?)).collect()
}

/// One page of search results for `query`, best first, after the memory `cursor`
/// (its rank in the same query); a query without usable terms matches nothing.
pub fn search(
    tx: &Tx<'_>,
    deployment_id: &str,
    query: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<MemoryRow>, StoreError> {
    let conn = tx.sql();
    let Some(expr) = match_expr(conn, deployment_id, query)? else { return Ok(Vec::new()) };
    let mut stmt = conn.prepare_cached(&format!(
        "WITH hits AS (SELECT rowid AS seq, bm25(memories_fts) AS score
                       FROM memories_fts WHERE memories_fts MATCH ?1)
         SELECT {COLUMNS} FROM hits h JOIN memories m ON m.seq = h.seq AND m.deployment_id = ?4
         WHERE ?2 IS NULL OR (h.score, h.seq) > (
             SELECT c.score, c.seq FROM hits c JOIN memories cm ON cm.seq = c.seq WHERE cm.id = ?2)
         ORDER BY h.score, h.seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![expr, cursor, limit, deployment_id], from_row)?;
    rows.map(|r| build(r?)).collect()
}

/// Contents of the deployment's tombstones that share a term with `content`, newest
/// first, with their deletion time (at most `limit`).
pub fn tombstones_like(
    tx: &Tx<'_>,
    deployment_id: &str,
    content: &str,
    limit: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let conn = tx.sql();
    let terms = query_terms(content);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    // Tombstones are few (one per deletion): a bounded scan of the newest ones.
    let mut stmt = conn.prepare_cached(
        "SELECT content, deleted_at FROM memory_tombstones WHERE deployment_id = ?1 ORDER BY seq DESC LIMIT 500",
    )?;
    let rows = stmt.query_map(params![deployment_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (text, at) = row?;
        let lower = text.to_lowercase();
        if terms.iter().any(|t| lower.contains(t.as_str())) {
            out.push((text, at));
            if out.len() as u32 == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Texts of the user messages of a run sent at or after `since` (RFC 3339).
pub fn user_messages_of_run(tx: &Tx<'_>, run_id: &str, since: &str) -> Result<Vec<String>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT content FROM messages WHERE run_id = ?1 AND role = 'user' AND created_at >= ?2 ORDER BY seq LIMIT 100",
    )?;
    let rows = stmt.query_map(params![run_id, since], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The `action` of each `memory` event run `run_id` emitted after sequence `after`
/// (a bounded range scan of the deployment's log).
pub fn memory_actions_of_run(
    tx: &Tx<'_>,
    deployment_id: &str,
    run_id: &str,
    after: u64,
) -> Result<Vec<String>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(data, '$.action') FROM events
         WHERE deployment_id = ?1 AND seq > ?2 AND run_id = ?3 AND type = 'memory' LIMIT 100000",
    )?;
    let rows = stmt.query_map(params![deployment_id, after as i64, run_id], |r| r.get::<_, Option<String>>(0))?;
    Ok(rows.filter_map(|r| r.transpose()).collect::<Result<Vec<_>, _>>()?)
}

/// A dream's lifecycle state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DreamRow {
    /// `run_…`: a dream has its own run id.
    pub id: String,
    /// Deployment it consolidated.
    pub deployment_id: String,
    /// `idle` or `api`.
    pub trigger: String,
    /// `running`, `completed`, `error`, `cancelled`.
    pub status: String,
    /// What changed (the `dream` event's summary).
    pub summary: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
}

/// Records a dream that starts now.
pub fn insert_dream(tx: &Tx<'_>, id: &str, deployment_id: &str, trigger: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO dreams (id, deployment_id, trigger, status, created_at) VALUES (?1, ?2, ?3, 'running', ?4)",
        params![id, deployment_id, trigger, now],
    )?;
    Ok(())
}

/// Records how a dream ended.
pub fn finish_dream(
    tx: &Tx<'_>,
    id: &str,
    status: &str,
    summary: Option<&str>,
    error: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "UPDATE dreams SET status = ?2, summary = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
        params![id, status, summary, error, now],
    )?;
    Ok(())
}

/// Dreams left `running` by a previous process are marked `cancelled`.
pub fn abandon_running_dreams(tx: &Tx<'_>, now: &str) -> Result<usize, StoreError> {
    let conn = tx.sql();
    Ok(conn.execute(
        "UPDATE dreams SET status = 'cancelled', error = 'interrupted by a host restart', finished_at = ?1
         WHERE status = 'running'",
        params![now],
    )?)
}

/// Loads one dream.
pub fn get_dream(tx: &Tx<'_>, id: &str) -> Result<Option<DreamRow>, StoreError> {
    let conn = tx.sql();
    Ok(conn
        .query_row(
            "SELECT id, deployment_id, trigger, status, summary, error, created_at, finished_at FROM dreams WHERE id = ?1",
            params![id],
            |r| {
                Ok(DreamRow {
                    id: r.get(0)?,
                    deployment_id: r.get(1)?,
                    trigger: r.get(2)?,
                    status: r.get(3)?,
                    summary: r.get(4)?,
                    error: r.get(5)?,
                    created_at: r.get(6)?,
                    finished_at: r.get(7)?,
                })
            },
        )
        .optional()?)
}

/// Ready deployments with `features.dreaming` whose latest run was created before
/// `idle_before`, have no unfinished run, and whose latest run is newer than their
/// latest dream (new activity since it), at most `limit`.
pub fn idle_dream_candidates(tx: &Tx<'_>, idle_before: &str, limit: u32) -> Result<Vec<String>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT d.id FROM deployments d
         WHERE d.status = 'ready' AND json_extract(d.spec, '$.features.dreaming') = 1
           AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.deployment_id = d.id
                           AND r.status IN ('queued', 'running'))
           AND (SELECT max(coalesce(r.finished_at, r.created_at)) FROM runs r WHERE r.deployment_id = d.id) < ?1
           AND (SELECT max(r.created_at) FROM runs r WHERE r.deployment_id = d.id)
               > coalesce((SELECT max(x.created_at) FROM dreams x WHERE x.deployment_id = d.id), '')
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![idle_before, limit], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_are_quoted_words_only() {
        assert_eq!(
            query_terms("What is the user's \"favourite\" OR colour? NEAR(x)"),
            ["user", "favourite", "colour", "near"]
        );
        assert!(query_terms("a ? ! *").is_empty());
    }

    #[test]
    fn indexed_words_carry_the_deployment_tag() {
        let t = tag("dep_ABC");
        assert_eq!(t.len(), 6);
        assert!(t.bytes().all(|b| b.is_ascii_lowercase()));
        assert_ne!(t, tag("dep_ABD"));
        assert_eq!(index_text("dep_ABC", "Dark-mode, please!"), format!("{t}Dark {t}mode {t}please"));
    }
}
