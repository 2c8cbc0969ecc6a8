//! `automations`: the scheduler is not built yet; every call says so.

use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::automations::{Automation, Host};

const UNSUPPORTED: &str = "automations are not available on this host yet";

impl Host for RunState {
    async fn create(
        &mut self,
        _name: String,
        _schedule: String,
        _instructions: String,
    ) -> wasmtime::Result<Result<Automation, String>> {
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn list_automations(&mut self) -> wasmtime::Result<Result<Vec<Automation>, String>> {
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn set_enabled(&mut self, _id: String, _enabled: bool) -> wasmtime::Result<Result<Automation, String>> {
        Ok(Err(UNSUPPORTED.into()))
    }

    async fn delete(&mut self, _id: String) -> wasmtime::Result<Result<(), String>> {
        Ok(Err(UNSUPPORTED.into()))
    }
}
