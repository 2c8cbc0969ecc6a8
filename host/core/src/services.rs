//! The shared services every subsystem (and every run) reaches through one `Arc`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::HostConfig;
use hermes_events::EventHub;
use hermes_providers::Providers;
use hermes_runtime::wit::HarnessPre;
use hermes_runtime::{RunState, Runtime};
use hermes_store::Db;

/// The host's subsystems, shared.
pub(crate) struct Services {
    /// This process's liveness lease on the data dir (see [`crate::instance`]); held,
    /// never read: holding it is what tells other processes this one is alive.
    #[allow(dead_code)]
    pub lease: crate::instance::Lease,
    pub db: Db,
    pub hub: EventHub,
    pub providers: Providers,
    pub runtime: Arc<Runtime>,
    /// The `python` and `shell` tools, unless `[code_tools] enabled = false`.
    pub sandbox: Option<Arc<hermes_sandbox::Sandbox>>,
    /// `web_fetch` and `web_search`, when the host offers either.
    pub web: crate::web::SharedWeb,
    pub config: HostConfig,
    pub data_dir: PathBuf,
    /// Pre-linked harness components by runtime name (`hermes` is built in).
    pub harnesses: HashMap<String, HarnessPre<RunState>>,
    /// `[pricing]`, shared by every run's model port (not copied per run).
    pub pricing: Arc<crate::config::Pricing>,
    /// The built-in tools each harness declares (its `hermes:builtin-tools` section).
    pub harness_tools: HashMap<String, Vec<String>>,
    /// Seals and opens secret values (the one holder of the master key).
    pub secrets: hermes_secrets::Secrets,
    /// Cancelled when the host shuts down.
    pub shutdown: CancellationToken,
    /// Every background task and run executor the host starts: shutdown waits for
    /// them to end instead of polling.
    pub tasks: tokio_util::task::TaskTracker,
    /// The live dream of each deployment (a user message cancels it).
    pub dreams: crate::dream_slots::Dreams,
    /// "Now" for the automation scheduler (injectable for tests).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Watches workspaces of deployments with `filesystem_webhooks`.
    pub fsevents: Arc<crate::fsevents::FsWatcher>,
    /// Connections to the deployments' MCP servers.
    pub mcp: Arc<crate::mcp::McpPool>,
}
