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
//! credits, charged after the call from the provider's reported tokens. A balance may
//! dip below zero on the call that exhausts it; the next call (and new deployments
//! and messages) is then refused. An account without a stored record (an embedding
//! host that never created accounts) is unmetered: usage is still recorded.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::HostError;
use crate::services::Services;
use hermes_store::accounts;

/// Prices of one model (or the default), in credits per million tokens.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Credits per million input (prompt) tokens.
    pub input_per_million: u64,
    /// Credits per million output (completion) tokens.
    pub output_per_million: u64,
}

impl Default for Price {
    fn default() -> Self {
        Price { input_per_million: 1_000_000, output_per_million: 1_000_000 }
    }
}

impl Price {
    /// Credits for a call with these token counts (rounded up).
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> i64 {
        let micro = input_tokens as u128 * self.input_per_million as u128
            + output_tokens as u128 * self.output_per_million as u128;
        i64::try_from(micro.div_ceil(1_000_000)).unwrap_or(i64::MAX)
    }
}

fn million() -> u64 {
    1_000_000
}

/// The `[pricing]` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// Default credits per million input tokens.
    #[serde(default = "million")]
    pub input_per_million: u64,
    /// Default credits per million output tokens.
    #[serde(default = "million")]
    pub output_per_million: u64,
    /// Prices by `provider/model`, overriding the default.
    #[serde(default)]
    pub models: BTreeMap<String, Price>,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing { input_per_million: million(), output_per_million: million(), models: BTreeMap::new() }
    }
}

impl Pricing {
    /// The price of `provider/model`.
    pub fn price(&self, model: &str) -> Price {
        self.models
            .get(model)
            .copied()
            .unwrap_or(Price { input_per_million: self.input_per_million, output_per_million: self.output_per_million })
    }
}

/// The message for an exhausted balance.
pub(crate) fn exhausted(balance: i64) -> String {
    format!("the account's credit balance is {balance}; add credits (`hermes-host credits add`) to continue")
}

/// Fails with `InsufficientCredits` when the account's balance is ≤ 0.
pub(crate) async fn require_credits(services: &Services, account_id: &str) -> Result<(), HostError> {
    let id = account_id.to_string();
    match services.db.read(move |conn| accounts::credits(conn, &id)).await? {
        Some(b) if b <= 0 => Err(HostError::InsufficientCredits(exhausted(b))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_round_up_and_models_override_the_default() {
        let p: Pricing = toml::from_str(
            "input_per_million = 500000\noutput_per_million = 2000000\n[models.\"openai/gpt-x\"]\ninput_per_million = 1\noutput_per_million = 1\n",
        )
        .unwrap();
        assert_eq!(p.price("anthropic/any").cost(3, 2), 6); // 1.5 + 4 → 5.5 → 6
        assert_eq!(p.price("openai/gpt-x").cost(10, 10), 1);
        assert_eq!(Price::default().cost(100, 20), 120);
        assert_eq!(Price::default().cost(0, 0), 0);
    }
}
