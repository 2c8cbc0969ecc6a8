//! The `plugins` aggregate: an account's uploaded components (their metadata; the
//! bytes are content-addressed files the core keeps beside the database).

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use crate::Tx;

/// A stored plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginRow {
    /// `plg_…`
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Name its tools are prefixed with (`<name>__<tool>`).
    pub name: String,
    /// The vendor's version label, when the manifest gives one.
    pub version: Option<String>,
    /// `tool-plugin` or `harness`.
    pub world: String,
    /// `hermes:agent` version of its export.
    pub wit_version: String,
    /// Hex SHA-256 of the component bytes.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// JSON array of `{name, description, parameters}`.
    pub tools: String,
    /// JSON array of declared capabilities.
    pub capabilities: String,
    /// JSON array of imported interface names.
    pub imports: String,
    /// RFC 3339.
    pub created_at: String,
}

const COLUMNS: &str =
    "id, account_id, name, version, world, wit_version, sha256, size, tools, capabilities, imports, created_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PluginRow> {
    Ok(PluginRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        world: r.get(4)?,
        wit_version: r.get(5)?,
        sha256: r.get(6)?,
        size: r.get::<_, i64>(7)? as u64,
        tools: r.get(8)?,
        capabilities: r.get(9)?,
        imports: r.get(10)?,
        created_at: r.get(11)?,
    })
}

/// Inserts a plugin.
pub fn insert(tx: &Tx<'_>, row: &PluginRow) -> Result<(), StoreError> {
    tx.sql().execute(
        &format!("INSERT INTO plugins ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            row.id,
            row.account_id,
            row.name,
            row.version,
            row.world,
            row.wit_version,
            row.sha256,
            row.size as i64,
            row.tools,
            row.capabilities,
            row.imports,
            row.created_at
        ],
    )?;
    Ok(())
}

/// Loads one plugin of an account.
pub fn get(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Option<PluginRow>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM plugins WHERE account_id = ?1 AND id = ?2"))?
        .query_row(params![account_id, id], from_row)
        .optional()?)
}

/// The newest plugin of an account with this name.
pub fn by_name(tx: &Tx<'_>, account_id: &str, name: &str) -> Result<Option<PluginRow>, StoreError> {
    Ok(tx
        .sql()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM plugins WHERE account_id = ?1 AND name = ?2 ORDER BY created_at DESC, id DESC LIMIT 1"
        ))?
        .query_row(params![account_id, name], from_row)
        .optional()?)
}

/// One page of an account's plugins, newest first, after the cursor `starting_after`.
pub fn list(
    tx: &Tx<'_>,
    account_id: &str,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<Vec<PluginRow>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(&format!(
        "SELECT {COLUMNS} FROM plugins
         WHERE account_id = ?1
           AND (?2 IS NULL OR (created_at, id) < (SELECT created_at, id FROM plugins WHERE account_id = ?1 AND id = ?2))
         ORDER BY created_at DESC, id DESC
         LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![account_id, starting_after, limit], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The deployments of the account that attach plugin `id` or run it as their runtime.
pub fn used_by(tx: &Tx<'_>, account_id: &str, id: &str, name: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.sql().prepare_cached(
        "SELECT d.id FROM deployments d
         WHERE d.account_id = ?1
           AND (EXISTS (SELECT 1 FROM json_each(d.spec, '$.plugins') j WHERE json_extract(j.value, '$.plugin_id') = ?2)
                OR json_extract(d.spec, '$.runtime') IN (?2, ?3))
         ORDER BY d.created_at LIMIT 20",
    )?;
    let rows = stmt.query_map(params![account_id, id, name], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Whether any plugin (of any account) still has these bytes.
pub fn sha_in_use(tx: &Tx<'_>, sha256: &str) -> Result<bool, StoreError> {
    Ok(tx.sql().query_row("SELECT EXISTS (SELECT 1 FROM plugins WHERE sha256 = ?1)", params![sha256], |r| r.get(0))?)
}

/// Deletes a plugin; false when there was none.
pub fn delete(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<bool, StoreError> {
    Ok(tx.sql().execute("DELETE FROM plugins WHERE account_id = ?1 AND id = ?2", params![account_id, id])? == 1)
}
