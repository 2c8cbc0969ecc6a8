//! Credits: what a model call costs, and the balance checks before work starts.
//!
//! Prices come from `[pricing]` in `hermes.toml`, in credits per million tokens:
//!
//! ```toml
//! [pricing]                      # the default for every model
//! input_per_million = 1000000    # = 1 credit per input token (the built-in default)
//! output_per_million = 1000000   # = 1 credit per output token
//!
//! [pricing.models."anthropic/claude-sonnet-4.5"]
//! input_per_million = 3000000
//! output_per_million = 15000000
//! ```
//!
//! A call costs `ceil((input × input_per_million + output × output_per_million) / 10⁶)`
//! credits, charged after the call from the provider's reported tokens. Before the
//! call its estimate is held (`hermes_store::usage::hold`), so concurrent calls cannot
//! spend the same credits, and the balance never goes below zero; at zero the next
//! call (and new deployments and messages) is refused. An account without a stored record (an embedding
//! host that never created accounts) is unmetered: usage is still recorded.

use crate::HostError;
use hermes_store::accounts;

/// The message for an exhausted balance.
pub(crate) fn exhausted(balance: i64) -> String {
    format!("the account's credit balance is {balance}; add credits (`hermes-host credits add`) to continue")
}

/// Fails with `InsufficientCredits` when the account's balance is ≤ 0.
pub(crate) async fn require_credits(db: &hermes_store::Db, account_id: &str) -> Result<(), HostError> {
    let id = account_id.to_string();
    match db.read(move |conn| accounts::credits(conn, &id)).await? {
        Some(b) if b <= 0 => Err(HostError::InsufficientCredits(exhausted(b))),
        _ => Ok(()),
    }
}
