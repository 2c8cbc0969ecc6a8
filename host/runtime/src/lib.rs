//! The Wasm runtime: one engine, compiled components cached on disk, a fresh store
//! and instance per run ([`Runtime::launch`]), and the guest-import boundary
//! (`imports/`) that validates, bounds and scrubs everything crossing WIT before it
//! calls the run's [`ports`].

mod cache;
pub mod commands;
mod engine;
mod imports;
mod interrupt;
mod launch;
mod limits;
mod output;
pub mod plugins;
pub mod ports;
mod quota;
mod slots;
mod state;
pub mod wit;

pub use cache::{BUILTIN_TOOLS_SECTION, builtin_tools, component_hash};
pub use commands::{CommandLimits, CommandOutput, Ended, Invocation, Program};
pub use engine::Runtime;
pub use interrupt::Interrupt;
pub use launch::{Entry, InstanceOutcome, Launch};
pub use limits::SandboxLimits;
pub use output::CappedOutput;
pub use plugins::{HttpGrant, InvalidPlugin, PluginCall, PluginGrants, PluginLimits, PluginWorld};
pub use ports::{PortError, PortResult, Ports};
pub use quota::{ENTRY_BYTES, QuotaExceeded, WorkspaceQuota, measure as measure_workspace};
pub use slots::{Slot, Tenant};
pub use state::{RunEnv, RunScope, RunState};

/// Errors of the runtime layer, each naming its phase.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured.
    #[error("configuring the Wasm engine: {0}")]
    Engine(String),
    /// A component failed to compile or validate.
    #[error("compiling the component: {0}")]
    Compile(String),
    /// A component does not match the `harness` world, or linking failed.
    #[error("linking the component: {0}")]
    Link(String),
    /// The on-disk cache could not be used.
    #[error("component cache: {0}")]
    Cache(String),
}
