//! The agents-and-sessions aggregates: versioned agents (`agt_…`, each version's
//! configuration as JSON), the deployment each (agent, user) pair owns, and sessions
//! (`ses_…`, one thread each, pinned to an agent version). The configuration's meaning
//! belongs to the core; here it is text.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;

/// An agent and its current version.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRow {
    /// `agt_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// The newest version (1 at creation).
    pub version: u32,
    /// That version's configuration (JSON).
    pub config: String,
    /// RFC 3339, when archived (no new sessions).
    pub archived_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: when the newest version was made.
    pub updated_at: String,
}

fn agent_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentRow> {
    Ok(AgentRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        version: r.get(2)?,
        config: r.get(3)?,
        archived_at: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

const AGENT_SELECT: &str = "SELECT a.id, a.account_id, v.version, v.config, a.archived_at, a.created_at, a.updated_at
     FROM agents a JOIN agent_versions v ON v.agent_id = a.id";

/// Creates an agent at version 1.
pub fn insert(tx: &Tx<'_>, id: &str, account_id: &str, config: &str, now: &str) -> Result<(), StoreError> {
    let sql = tx.sql();
    sql.execute(
        "INSERT INTO agents (id, account_id, version, created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?3)",
        params![id, account_id, now],
    )?;
    sql.execute(
        "INSERT INTO agent_versions (agent_id, version, config, created_at) VALUES (?1, 1, ?2, ?3)",
        params![id, config, now],
    )?;
    Ok(())
}

/// Adds the next version of an agent (its configuration now); returns its number.
pub fn add_version(tx: &Tx<'_>, id: &str, config: &str, now: &str) -> Result<u32, StoreError> {
    let sql = tx.sql();
    let version: u32 = sql.query_row("SELECT version + 1 FROM agents WHERE id = ?1", params![id], |r| r.get(0))?;
    sql.execute(
        "INSERT INTO agent_versions (agent_id, version, config, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, version, config, now],
    )?;
    sql.execute("UPDATE agents SET version = ?2, updated_at = ?3 WHERE id = ?1", params![id, version, now])?;
    Ok(version)
}

/// An agent of an account at `version` (its newest when `None`).
pub fn get(tx: &Tx<'_>, account_id: &str, id: &str, version: Option<u32>) -> Result<Option<AgentRow>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(&format!(
            "{AGENT_SELECT} WHERE a.account_id = ?1 AND a.id = ?2 AND v.version = COALESCE(?3, a.version)"
        ))?
        .query_row(params![account_id, id, version], agent_from_row)
        .optional()?)
}

/// One page of an account's agents at their newest version, newest first.
pub fn list(tx: &Tx<'_>, account_id: &str, cursor: Option<&str>, limit: u32) -> Result<Vec<AgentRow>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(&format!(
        "{AGENT_SELECT} WHERE a.account_id = ?1 AND v.version = a.version
           AND (?2 IS NULL OR (a.created_at, a.id) < (SELECT created_at, id FROM agents WHERE account_id = ?1 AND id = ?2))
         ORDER BY a.created_at DESC, a.id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![account_id, cursor, limit], agent_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every version of an agent, newest first.
pub fn versions(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Vec<AgentRow>, StoreError> {
    let mut stmt = tx
        .sql()
        .prepare_cached(&format!("{AGENT_SELECT} WHERE a.account_id = ?1 AND a.id = ?2 ORDER BY v.version DESC"))?;
    let rows = stmt.query_map(params![account_id, id], agent_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Archives an agent (no new sessions); false when it was already archived.
pub fn archive(tx: &Tx<'_>, id: &str, now: &str) -> Result<bool, StoreError> {
    Ok(tx
        .sql()
        .execute("UPDATE agents SET archived_at = ?2 WHERE id = ?1 AND archived_at IS NULL", params![id, now])?
        == 1)
}

/// The deployment (agent, user) owns, if one was made.
pub fn user_deployment(tx: &Tx<'_>, agent_id: &str, user_key: &str) -> Result<Option<String>, StoreError> {
    Ok(tx
        .sql()
        .query_row(
            "SELECT deployment_id FROM agent_users WHERE agent_id = ?1 AND user_key = ?2",
            params![agent_id, user_key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records `deployment_id` as the deployment (agent, user) owns, unless the pair
/// already owns one that still exists: returns the pair's deployment either way, so
/// of two sessions racing to make the pair's first deployment, one wins.
pub fn claim_user_deployment(
    tx: &Tx<'_>,
    agent_id: &str,
    user_key: &str,
    deployment_id: &str,
) -> Result<String, StoreError> {
    if let Some(existing) = user_deployment(tx, agent_id, user_key)?
        && crate::deployments::exists(tx, &existing)?
    {
        return Ok(existing);
    }
    tx.sql().execute(
        "INSERT INTO agent_users (agent_id, user_key, deployment_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (agent_id, user_key) DO UPDATE SET deployment_id = excluded.deployment_id",
        params![agent_id, user_key, deployment_id],
    )?;
    Ok(deployment_id.to_string())
}

/// A session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    /// `ses_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// `agt_…`
    pub agent_id: String,
    /// The agent version it is pinned to.
    pub agent_version: u32,
    /// The vendor's end user, who scopes memory and learned skills.
    pub user_id: Option<String>,
    /// The (agent, user) pair's deployment.
    pub deployment_id: String,
    /// The session's thread in it.
    pub thread_id: String,
    /// Optional title.
    pub title: Option<String>,
    /// JSON object of strings.
    pub metadata: String,
    /// RFC 3339, when archived.
    pub archived_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

const SESSION_COLUMNS: &str = "id, account_id, agent_id, agent_version, user_id, deployment_id, thread_id, title, \
                               metadata, archived_at, created_at, updated_at";

fn session_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        agent_id: r.get(2)?,
        agent_version: r.get(3)?,
        user_id: r.get(4)?,
        deployment_id: r.get(5)?,
        thread_id: r.get(6)?,
        title: r.get(7)?,
        metadata: r.get(8)?,
        archived_at: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

/// Records a session.
pub fn insert_session(tx: &Tx<'_>, s: &SessionRow) -> Result<(), StoreError> {
    tx.sql().execute(
        &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            s.id,
            s.account_id,
            s.agent_id,
            s.agent_version,
            s.user_id,
            s.deployment_id,
            s.thread_id,
            s.title,
            s.metadata,
            s.archived_at,
            s.created_at,
            s.updated_at
        ],
    )?;
    Ok(())
}

/// A session of an account.
pub fn session(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE account_id = ?1 AND id = ?2"))?
        .query_row(params![account_id, id], session_from_row)
        .optional()?)
}

/// Filters of a session listing (`None` = any).
#[derive(Clone, Debug, Default)]
pub struct SessionFilter {
    /// Only this agent's.
    pub agent_id: Option<String>,
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only archived (`Some(true)`) or only live (`Some(false)`) ones.
    pub archived: Option<bool>,
}

/// One page of an account's sessions, newest first, after the session `cursor`.
pub fn sessions(
    tx: &Tx<'_>,
    account_id: &str,
    filter: &SessionFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<SessionRow>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions
         WHERE account_id = ?1 AND (?2 IS NULL OR agent_id = ?2) AND (?3 IS NULL OR user_id = ?3)
           AND (?4 IS NULL OR (archived_at IS NOT NULL) = ?4)
           AND (?5 IS NULL OR (created_at, id) < (SELECT created_at, id FROM sessions WHERE account_id = ?1 AND id = ?5))
         ORDER BY created_at DESC, id DESC LIMIT ?6"
    ))?;
    let rows = stmt
        .query_map(
            params![account_id, filter.agent_id, filter.user_id, filter.archived, cursor, limit],
            session_from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Changes a session's title and metadata.
pub fn update_session(tx: &Tx<'_>, id: &str, title: Option<&str>, metadata: &str, now: &str) -> Result<(), StoreError> {
    tx.sql().execute(
        "UPDATE sessions SET title = ?2, metadata = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, title, metadata, now],
    )?;
    Ok(())
}

/// Archives a session; false when it was already archived.
pub fn archive_session(tx: &Tx<'_>, id: &str, now: &str) -> Result<bool, StoreError> {
    Ok(tx.sql().execute(
        "UPDATE sessions SET archived_at = ?2, updated_at = ?2 WHERE id = ?1 AND archived_at IS NULL",
        params![id, now],
    )? == 1)
}

/// Forgets a session.
pub fn delete_session(tx: &Tx<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx.sql().execute("DELETE FROM sessions WHERE id = ?1", params![id])? == 1)
}
