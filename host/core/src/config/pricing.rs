//! `[pricing]`: credits charged per model call, by model.

use std::collections::BTreeMap;

use serde::Deserialize;

fn million() -> u64 {
    1_000_000
}

/// Prices of one model (or the default), in credits per million tokens.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Credits per million input (prompt) tokens.
    pub input_per_million: u64,
    /// Credits per million output (completion) tokens.
    pub output_per_million: u64,
    /// Credits per million input tokens read from the provider's prompt cache; a
    /// tenth of `input_per_million` when not set (what Anthropic and OpenAI charge).
    #[serde(default)]
    pub cached_input_per_million: Option<u64>,
}

impl Default for Price {
    fn default() -> Self {
        Price { input_per_million: 1_000_000, output_per_million: 1_000_000, cached_input_per_million: None }
    }
}

impl Price {
    /// Credits for a call with these token counts (rounded up).
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> i64 {
        self.cost_cached(input_tokens, 0, output_tokens)
    }

    /// Credits for a call of which `cached` input tokens came from the prompt cache.
    pub fn cost_cached(&self, input_tokens: u64, cached: u64, output_tokens: u64) -> i64 {
        let cached = cached.min(input_tokens);
        let cached_price = self.cached_input_per_million.unwrap_or(self.input_per_million / 10);
        let micro = (input_tokens - cached) as u128 * self.input_per_million as u128
            + cached as u128 * cached_price as u128
            + output_tokens as u128 * self.output_per_million as u128;
        i64::try_from(micro.div_ceil(1_000_000)).unwrap_or(i64::MAX)
    }
}

/// The `[pricing]` table.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// Default credits per million input tokens.
    #[serde(default = "million")]
    pub input_per_million: u64,
    /// Default credits per million output tokens.
    #[serde(default = "million")]
    pub output_per_million: u64,
    /// Default credits per million cached input tokens (a tenth of the input price
    /// when not set).
    #[serde(default)]
    pub cached_input_per_million: Option<u64>,
    /// Prices by `provider/model`, overriding the default.
    #[serde(default)]
    pub models: BTreeMap<String, Price>,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing {
            input_per_million: million(),
            output_per_million: million(),
            cached_input_per_million: None,
            models: BTreeMap::new(),
        }
    }
}

impl Pricing {
    /// The price of `provider/model`.
    pub fn price(&self, model: &str) -> Price {
        self.models.get(model).copied().unwrap_or(Price {
            input_per_million: self.input_per_million,
            output_per_million: self.output_per_million,
            cached_input_per_million: self.cached_input_per_million,
        })
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
        assert_eq!(Price::default().cost_cached(100, 80, 20), 20 + 8 + 20, "cached input at a tenth by default");
        let set = Price { cached_input_per_million: Some(0), ..Price::default() };
        assert_eq!(set.cost_cached(100, 500, 0), 0, "cached never exceeds the input");
    }
}
