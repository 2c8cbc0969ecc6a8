//! The `usage` ledger: one row per model call, written in the same commit as the
//! run's token counters and the account's debit.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::Tx;

/// One model call's charge.
#[derive(Clone, Debug)]
pub struct UsageRow {
    /// The run that made the call.
    pub run_id: String,
    /// Its deployment.
    pub deployment_id: String,
    /// The account charged.
    pub account_id: String,
    /// `provider/model`.
    pub model: String,
    /// Prompt tokens reported by the provider.
    pub input_tokens: u64,
    /// Of `input_tokens`, those read from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Completion tokens reported by the provider.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits: i64,
}

/// Records a call and debits the account (an account without a row is unmetered).
///
/// With `hold`, the credits held for the call come back first; the balance never
/// goes below zero (a call dearer than what was left is charged down to zero, the
/// ledger keeping its real cost).
pub fn charge(tx: &Tx<'_>, row: &UsageRow, now: &str, hold: Option<i64>) -> Result<(), StoreError> {
    if let Some(id) = hold {
        release(tx, id)?;
    }
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO usage (run_id, deployment_id, account_id, model, input_tokens, output_tokens, credits, created_at,
                            cached_input_tokens)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            row.run_id,
            row.deployment_id,
            row.account_id,
            row.model,
            row.input_tokens as i64,
            row.output_tokens as i64,
            row.credits,
            now,
            row.cached_input_tokens as i64
        ],
    )?;
    conn.execute(
        "UPDATE accounts SET credits = max(credits - ?2, 0) WHERE id = ?1",
        params![row.account_id, row.credits],
    )?;
    Ok(())
}

/// Holds up to `estimate` credits of the account for a model call about to be made,
/// so concurrent calls cannot spend the same credits: the hold is what is left when
/// that is less. `None` for an unmetered account (no stored record); refused with
/// the balance when it is ≤ 0.
pub fn hold(tx: &Tx<'_>, account_id: &str, run_id: &str, estimate: i64, now: &str) -> Result<Option<i64>, StoreError> {
    let conn = tx.sql();
    let Some(balance) = crate::accounts::credits(tx, account_id)? else { return Ok(None) };
    if balance <= 0 {
        return Err(StoreError::InsufficientCredits(balance));
    }
    let amount = estimate.clamp(1, balance);
    conn.execute("UPDATE accounts SET credits = credits - ?2 WHERE id = ?1", params![account_id, amount])?;
    conn.execute(
        "INSERT INTO credit_holds (account_id, run_id, amount, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![account_id, run_id, amount, now],
    )?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Gives a hold's credits back (the call failed or was charged); a no-op for a hold
/// already released.
pub fn release(tx: &Tx<'_>, hold: i64) -> Result<(), StoreError> {
    let conn = tx.sql();
    let held: Option<(String, i64)> = conn
        .query_row("SELECT account_id, amount FROM credit_holds WHERE id = ?1", params![hold], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((account, amount)) = held {
        conn.execute("UPDATE accounts SET credits = credits + ?2 WHERE id = ?1", params![account, amount])?;
        conn.execute("DELETE FROM credit_holds WHERE id = ?1", params![hold])?;
    }
    Ok(())
}

/// Gives back every hold (at start: the calls a crash interrupted were never charged).
pub fn release_all(tx: &Tx<'_>) -> Result<u64, StoreError> {
    let conn = tx.sql();
    conn.execute(
        "UPDATE accounts SET credits = credits + (SELECT sum(amount) FROM credit_holds h WHERE h.account_id = accounts.id)
         WHERE id IN (SELECT account_id FROM credit_holds)",
        [],
    )?;
    Ok(conn.execute("DELETE FROM credit_holds", [])? as u64)
}

/// Usage of one deployment with one model.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UsageLine {
    /// `dep_…` (kept after the deployment is deleted).
    pub deployment_id: String,
    /// `provider/model`.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits: i64,
}

/// An account's usage grouped by deployment and model.
pub fn by_deployment_and_model(tx: &Tx<'_>, account_id: &str) -> Result<Vec<UsageLine>, StoreError> {
    let conn = tx.sql();
    let mut stmt = conn.prepare_cached(
        "SELECT deployment_id, model, SUM(input_tokens), SUM(output_tokens), SUM(credits) FROM usage
         WHERE account_id = ?1 GROUP BY deployment_id, model ORDER BY deployment_id, model",
    )?;
    let rows = stmt
        .query_map(params![account_id], |r| {
            Ok(UsageLine {
                deployment_id: r.get(0)?,
                model: r.get(1)?,
                input_tokens: r.get::<_, i64>(2)? as u64,
                output_tokens: r.get::<_, i64>(3)? as u64,
                credits: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
