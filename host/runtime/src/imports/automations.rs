//! `automations`: the agent manages its own deployment's automations, through the
//! same validation as the REST API. The port refuses when `features.automations` is
//! off, and from inside an automation's own run unless the host allows it (a
//! scheduled run that schedules runs is how loops start).

use std::sync::Arc;

use super::{MAX_TEXT, bounded, for_guest, trap};
use crate::RunState;
use crate::ports::AutomationsPort;
use crate::wit::hermes::agent::automations::{Automation, Host};

/// Longest id a guest may pass.
const MAX_ID: usize = 64;

/// Why this run may not manage automations, if it may not. Takes the port (not the
/// store data, which is not `Sync`) so the future stays `Send`.
async fn refused(port: Arc<dyn AutomationsPort>) -> wasmtime::Result<Option<String>> {
    port.refused().await.map_err(trap)
}

impl Host for RunState {
    async fn create(
        &mut self,
        name: String,
        schedule: String,
        instructions: String,
    ) -> wasmtime::Result<Result<Automation, String>> {
        if let Some(why) = refused(self.env.ports.automations.clone()).await? {
            return Ok(Err(why));
        }
        // Sizes are checked again (as API input) by the port; this only keeps huge
        // strings from crossing further.
        if let Err(e) = bounded("instructions", &instructions, MAX_TEXT)
            .and_then(|_| bounded("name", &name, 1024))
            .and_then(|_| bounded("schedule", &schedule, 1024))
        {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.automations.create(name, schedule, instructions).await)
    }

    async fn list_automations(&mut self) -> wasmtime::Result<Result<Vec<Automation>, String>> {
        if let Some(why) = refused(self.env.ports.automations.clone()).await? {
            return Ok(Err(why));
        }
        for_guest(self.env.ports.automations.list().await)
    }

    async fn set_enabled(&mut self, id: String, enabled: bool) -> wasmtime::Result<Result<Automation, String>> {
        if let Some(why) = refused(self.env.ports.automations.clone()).await? {
            return Ok(Err(why));
        }
        if let Err(e) = bounded("id", &id, MAX_ID) {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.automations.set_enabled(&id, enabled).await)
    }

    async fn delete(&mut self, id: String) -> wasmtime::Result<Result<(), String>> {
        if let Some(why) = refused(self.env.ports.automations.clone()).await? {
            return Ok(Err(why));
        }
        if let Err(e) = bounded("id", &id, MAX_ID) {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.automations.delete(&id).await)
    }
}
