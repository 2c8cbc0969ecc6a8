//! Hermes Host: a Wasm-sandboxed host for AI agents.
//!
//! Embed it with [`HostBuilder`] / [`Host`]: create a deployment from a
//! [`DeploymentSpec`], send it a message, and follow its [`Event`]s — the harness
//! runs in a fresh wasmtime instance per run, with only its workspace granted.

pub mod accounts;
pub mod agents;
pub mod approvals;
pub mod automations;
pub mod billing;
mod builtin;
mod clock;
pub mod config;
pub mod conversations;
pub mod deployments;
mod dream_slots;
pub mod dreaming;
mod egress;
mod error;

pub mod files;
mod fsevents;
mod handle;
mod host;
pub mod idempotency;
pub mod instance;
mod instances;
pub mod keys;
pub mod mcp;
pub mod memory;
mod metrics;
pub mod plugins;
mod ports;
pub mod retained;
mod run_scope;
pub mod runs;
pub mod secrets;
mod services;
pub mod skills;
pub mod skills_api;
mod subagents;
pub mod tools;
mod trace;
pub mod web;
pub mod webhooks;
pub mod workspace;

pub use config::{HostConfig, TenantLimits};
pub use conversations::{TranscriptEntry, TranscriptRole};
pub use deployments::Deployment;
pub use error::HostError;
pub use hermes_events::{Event, NewEvent, Subscription, SubscriptionError};
pub use hermes_types::spec::{self, DeploymentSpec};
pub use hermes_types::status::RunStatus;
pub use host::{DEFAULT_ACCOUNT, Host, HostBuilder};
pub use runs::{Run, RunTicket, ThreadTarget};
