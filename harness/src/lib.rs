//! # The Hermes harness
//!
//! The agent loop that Hermes Host runs for every run of a deployment, compiled to a
//! `wasm32-wasip2` component of the `harness` world (`hermes:agent@0.1.0`).
//!
//! A run's whole state is its persisted thread: every step is appended to the thread
//! before the next one starts, so a fresh instance continues where an earlier one
//! stopped ([`resume`]). The loop itself ([`agent_loop`]) talks to the host only
//! through the [`Imports`] trait, so it runs natively in unit tests against a fake
//! host; the `component` feature (on by default) binds that trait to the real WIT
//! imports and exports the world.
//!
//! | module | job |
//! |---|---|
//! | [`agent_loop`] | resume, then model turn → tool calls → model turn … until an answer |
//! | [`compaction`] | a long thread as a persisted summary plus its newest entries, under the window |
//! | [`context`] | pure: system prompt, bounded transcript and tool list for one model call |
//! | [`resume`] | pure: what a run left unfinished, read from the thread |
//! | [`tools`] | the built-in tools over `/workspace`, and dispatch to MCP tools |
//! | [`observe`] | after an answer: one bounded model call extracts observations into memory |
//! | [`dream`] | idle-time memory consolidation |
#![deny(missing_docs)]

pub mod agent_loop;
pub mod compaction;
pub mod context;
pub mod dream;
pub mod imports;
pub mod observe;
pub mod resume;
pub mod tools;

#[cfg(all(feature = "component", target_arch = "wasm32"))]
mod component;

pub use context::{ContextInput, assemble_context};
pub use imports::Imports;
pub use tools::Workspace;

#[cfg(test)]
mod agent_loop_tests;
#[cfg(test)]
mod fake_host;
