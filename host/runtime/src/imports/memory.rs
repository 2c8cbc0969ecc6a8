//! `memory`: the deployment's observational memory, shared by its threads. The port
//! applies the same checks as the REST API (no instructions to the model, no secret
//! values, no re-learning what the customer had forgotten) and emits `memory` events.

use super::{bounded, for_guest};
use crate::RunState;
use crate::wit::hermes::agent::memory::{Host, MemoryEntry};

/// Longest query a guest may pass.
const MAX_QUERY: usize = 4096;

impl RunState {
    fn memory_enabled(&self) -> Result<(), String> {
        if self.env.spec.features.memory {
            Ok(())
        } else {
            Err("memory is disabled for this deployment (features.memory)".into())
        }
    }
}

impl Host for RunState {
    async fn recall(&mut self, query: String, limit: u32) -> wasmtime::Result<Result<Vec<MemoryEntry>, String>> {
        if let Err(e) = self.memory_enabled().and_then(|_| bounded("query", &query, MAX_QUERY)) {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.memory.recall(&query, limit).await)
    }

    async fn add(&mut self, content: String) -> wasmtime::Result<Result<MemoryEntry, String>> {
        if let Err(e) = self.memory_enabled() {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.memory.add(&content).await)
    }

    async fn update(&mut self, id: String, content: String) -> wasmtime::Result<Result<MemoryEntry, String>> {
        if let Err(e) = self.memory_enabled().and_then(|_| bounded("id", &id, 64)) {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.memory.update(&id, &content).await)
    }

    async fn forget(&mut self, id: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = self.memory_enabled().and_then(|_| bounded("id", &id, 64)) {
            return Ok(Err(e));
        }
        for_guest(self.env.ports.memory.forget(&id).await)
    }
}
