//! SQLite persistence: one writer thread with group commit, a small pool of readers.
//!
//! Every write runs on the dedicated writer thread (never on a tokio worker); queued
//! writes are committed together in one transaction, each inside its own savepoint
//! so one failing write never takes its neighbours down. A write's result, and any
//! announcement attached to it, is released only after the commit is durable.

pub mod accounts;
pub mod agents;
pub mod approvals;
pub mod automations;
mod db;
pub mod deployments;
pub mod events;
pub mod idempotency;
pub mod memories;
pub mod plugins;
pub mod retained;
pub mod runs;
mod schema;
pub mod secrets;
pub mod threads;
pub mod usage;
pub mod webhooks;

pub use db::{Db, StoreError, Tx};
