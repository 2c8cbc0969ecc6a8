//! Host side of each `hermes:agent` interface, one module per interface. Everything
//! crossing from the guest is validated and bounded here, then handed to the run's
//! port; what comes back is scrubbed of the run's secret values.

mod approvals;
mod automations;
mod events;
mod logging;

pub(crate) use logging::bounded_line;
mod mcp;
mod memory;
mod model;
mod skills;
mod subagents;
mod threads;

use hermes_types::text::{MAX_TEXT, bounded, preview};

use crate::ports::{PortError, PortResult};
use crate::state::RunState;
use crate::wit::hermes::agent::types;

impl types::Host for RunState {}

/// A port's answer as the WIT function returns it: the guest's error as `Ok(Err)`,
/// the host's as a trap.
fn for_guest<T>(result: PortResult<T>) -> wasmtime::Result<Result<T, String>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(PortError::Guest(message)) => Ok(Err(message)),
        Err(PortError::Host(e)) => Err(wasmtime::Error::from_boxed(e)),
    }
}

/// A port failure that the WIT function cannot report to the guest: a trap.
fn trap(e: PortError) -> wasmtime::Error {
    match e {
        PortError::Guest(m) => wasmtime::Error::msg(m),
        PortError::Host(e) => wasmtime::Error::from_boxed(e),
    }
}

#[cfg(test)]
pub(crate) mod fake;
