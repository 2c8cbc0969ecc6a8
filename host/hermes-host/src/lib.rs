//! Hermes Host: a Wasm-sandboxed host for AI agents.
//!
//! Embed it with [`HostBuilder`] / [`Host`]: create a deployment from a
//! [`DeploymentSpec`], send it a message, and follow its [`Event`]s — the harness
//! runs in a fresh wasmtime instance per run, with only its workspace granted.
//! [`api::router`] mounts the REST API inside your own axum server.
//!
//! This crate is the public face of the floors below it (`hermes-core`, `hermes-api`
//! and the rest): what is re-exported here is the embedding API; everything else is
//! an implementation detail that may change.
#![deny(missing_docs)]

pub use hermes_core::{
    DEFAULT_ACCOUNT, Deployment, DeploymentSpec, Event, Host, HostBuilder, HostConfig, HostError, NewEvent, Run,
    RunStatus, RunTicket, Subscription, SubscriptionError, TenantLimits, ThreadTarget, spec,
};
pub use hermes_core::{TranscriptEntry, TranscriptRole};
pub use hermes_types::paging::{DeploymentFilter, Page};
pub use hermes_types::status::DeploymentStatus;

/// The REST API as an axum `Router` ([`api::router`]), to serve or to mount.
pub mod api {
    pub use hermes_api::{AppState, ServeOptions, router, serve};
}

/// Host configuration (`hermes.toml`) and its sections.
pub mod config {
    pub use hermes_core::config::*;
}

/// The host-made web tools (`web_fetch`, `web_search`), usable on their own.
pub mod web {
    pub use hermes_core::web::*;
}

/// Accounts, API keys and credits, for embedders that manage their own.
pub mod accounts {
    pub use hermes_core::accounts::Accounts;
}

/// Scheduled runs: what an embedder creates and the clock tests drive.
pub mod automations {
    pub use hermes_core::automations::{Automation, AutomationPatch, Clock, ManualClock, NewAutomation};
}

/// The SKILL.md validator (also `hermes-host skills validate`).
pub mod skills {
    pub use hermes_core::skills::validate;
}

/// Vendor plugins: the upload check (also `hermes-host plugin check`) and the API's shapes.
pub mod plugins {
    pub use hermes_core::plugins::{Checked, Manifest, PluginInfo, PluginTool, Upload, check_file, valid_name};
}
