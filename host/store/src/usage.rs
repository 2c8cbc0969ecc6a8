//! The `usage` ledger: one row per model call, written in the same commit as the
//! run's token counters and the account's debit.

use rusqlite::params;
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
    /// Completion tokens reported by the provider.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits: i64,
}

/// Records a call and debits the account (an account without a row is unmetered).
pub fn charge(tx: &Tx<'_>, row: &UsageRow, now: &str) -> Result<(), StoreError> {
    let conn = tx.sql();
    conn.execute(
        "INSERT INTO usage (run_id, deployment_id, account_id, model, input_tokens, output_tokens, credits, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            row.run_id,
            row.deployment_id,
            row.account_id,
            row.model,
            row.input_tokens as i64,
            row.output_tokens as i64,
            row.credits,
            now
        ],
    )?;
    conn.execute("UPDATE accounts SET credits = credits - ?2 WHERE id = ?1", params![row.account_id, row.credits])?;
    Ok(())
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
