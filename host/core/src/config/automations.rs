//! `[automations]`: the scheduler's tick, missed-run policy and limits.

use serde::Deserialize;

/// `[automations]` in `hermes.toml`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AutomationsConfig {
    /// How often the scheduler looks for due slots, in milliseconds (default 1000).
    pub tick_ms: u64,
    /// Whether an automation's own run may manage automations (default false: a
    /// scheduled run that schedules more runs is how loops start).
    pub allow_from_automation_runs: bool,
    /// Most automations one deployment may have (default 1000).
    pub max_per_deployment: u64,
    /// Testing only: read "now" from this file (RFC 3339). Refused unless the
    /// environment also sets `HERMES_ALLOW_TEST_CLOCK=1`.
    pub clock_file: Option<std::path::PathBuf>,
}

impl Default for AutomationsConfig {
    fn default() -> Self {
        AutomationsConfig {
            tick_ms: 1000,
            allow_from_automation_runs: false,
            max_per_deployment: 1000,
            clock_file: None,
        }
    }
}
