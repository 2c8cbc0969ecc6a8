//! `[webhooks]`: delivery retries and concurrency.

use serde::Deserialize;

/// `[webhooks]` in `hermes.toml`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Wait before the first retry; doubles on each failure (default 5,000 ms).
    pub initial_backoff_ms: u64,
    /// Longest wait between two attempts (default 3,600 s).
    pub max_backoff_secs: u64,
    /// A delivery not acknowledged this long after its event is abandoned
    /// (default 259,200 s = 3 days).
    pub retry_period_secs: u64,
    /// Attempts in flight at once, all endpoints together (default 16).
    pub concurrency: usize,
    /// Timeout of one attempt (default 10 s).
    pub timeout_secs: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            initial_backoff_ms: 5_000,
            max_backoff_secs: 3_600,
            retry_period_secs: 3 * 24 * 3_600,
            concurrency: 16,
            timeout_secs: 10,
        }
    }
}
