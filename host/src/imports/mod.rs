//! Host side of each `hermes:agent` interface, one module per interface. Everything
//! crossing from the guest is validated and bounded here.

mod approvals;
mod automations;
mod events;
mod logging;
mod mcp;
mod memory;
mod model;
mod skills;
mod threads;

use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::types;

impl types::Host for RunState {}

/// Largest text a guest may pass in one field (message content, tool output).
pub(crate) const MAX_TEXT: usize = 1 << 20;

/// Checks a guest-supplied string against a byte budget.
pub(crate) fn bounded(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("{what} is {} bytes; the limit is {max}", s.len()));
    }
    Ok(())
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn preview(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &s[..end], s.len() - end)
}
