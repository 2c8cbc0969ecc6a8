//! `[dreaming]`: when an idle deployment dreams.

use std::time::Duration;

use serde::Deserialize;

/// `[dreaming]` in `hermes.toml`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DreamingConfig {
    /// Idle time before a deployment dreams (default 30).
    #[serde(default = "default_idle_minutes")]
    pub idle_minutes: u64,
    /// Overrides `idle_minutes` with seconds (tests, demos).
    #[serde(default)]
    pub idle_secs: Option<u64>,
    /// How often idle deployments are looked for (default 60 s).
    #[serde(default = "default_check_interval")]
    pub check_interval_secs: u64,
}

fn default_idle_minutes() -> u64 {
    30
}

fn default_check_interval() -> u64 {
    60
}

impl Default for DreamingConfig {
    fn default() -> Self {
        DreamingConfig { idle_minutes: 30, idle_secs: None, check_interval_secs: 60 }
    }
}

impl DreamingConfig {
    /// How long a deployment must be idle before it dreams.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_secs.unwrap_or(self.idle_minutes.saturating_mul(60)))
    }
}
