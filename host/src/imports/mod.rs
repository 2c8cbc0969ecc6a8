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

pub(crate) use hermes_types::text::{MAX_TEXT, bounded, preview};
