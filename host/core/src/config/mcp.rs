//! `[mcp]`: MCP client timeouts, concurrency and backoff.

use serde::Deserialize;

/// `[mcp]` in `hermes.toml`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Longest wait for one tool call, queueing included (default 60,000 ms).
    pub call_timeout_ms: u64,
    /// Longest wait to connect (probe / handshake) and list tools (default 10,000 ms).
    pub connect_timeout_ms: u64,
    /// Calls in flight to one server at once (default 8).
    pub max_concurrent_calls: usize,
    /// Wait before the first reconnect after a failure; doubles each time (default 500 ms).
    pub initial_backoff_ms: u64,
    /// Longest wait between reconnects (default 30,000 ms).
    pub max_backoff_ms: u64,
    /// How long a server's tool listing is reused before it is listed again
    /// (default 30,000 ms; 0 lists every time).
    pub list_ttl_ms: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            call_timeout_ms: 60_000,
            connect_timeout_ms: 10_000,
            max_concurrent_calls: 8,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            list_ttl_ms: 30_000,
        }
    }
}
