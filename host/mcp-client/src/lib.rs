//! The MCP wire client: one server over Streamable HTTP in either protocol era
//! (2025-11-25 sessions or 2026-07-28 stateless), JSON or SSE responses with resume,
//! and tool results flattened to text. Knows nothing about deployments or secrets:
//! the host's MCP pool decides what to connect to and with which headers.

pub mod client;
pub mod content;
pub mod sse;

pub use client::{McpClient, McpError};
