//! `memory`: the deployment's observational memory, shared by its threads. Writes go
//! through the same checks as the REST API (no instructions to the model, no secret
//! values, no re-learning what the customer had forgotten) and emit `memory` events.

use super::bounded;
use crate::HostError;
use crate::memory::{self, MemoryObject, Origin};
use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::memory::{Host, MemoryEntry};
use hermes_store::memories::MemorySource;

/// Longest query a guest may pass.
const MAX_QUERY: usize = 4096;

fn to_wit(m: MemoryObject) -> MemoryEntry {
    MemoryEntry { id: m.memory_id, content: m.content, source: m.source, created_at: m.created_at }
}

/// A failure the guest can act on, or a host failure (which ends the run).
fn for_guest(e: HostError) -> wasmtime::Result<String> {
    match e {
        HostError::Validation { message, .. } | HostError::NotFound(message) | HostError::Conflict(message) => {
            Ok(message)
        }
        other => Err(other.into()),
    }
}

impl RunState {
    fn origin(&self) -> Origin<'_> {
        let thread = Some(self.env.thread_id.as_str()).filter(|t| !t.is_empty());
        Origin { source: MemorySource::Agent, thread_id: thread, run_id: Some(&self.env.run_id) }
    }

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
        let env = self.env.clone();
        let found = memory::recall(&env.services, &env.deployment_id, &query, limit).await?;
        Ok(Ok(found.into_iter().map(|r| to_wit(r.into())).collect()))
    }

    async fn add(&mut self, content: String) -> wasmtime::Result<Result<MemoryEntry, String>> {
        if let Err(e) = self.memory_enabled() {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        match memory::add(&env.services, &env.deployment_id, &env.secrets, &content, self.origin()).await {
            Ok(m) => Ok(Ok(to_wit(m))),
            Err(e) => Ok(Err(for_guest(e)?)),
        }
    }

    async fn update(&mut self, id: String, content: String) -> wasmtime::Result<Result<MemoryEntry, String>> {
        if let Err(e) = self.memory_enabled().and_then(|_| bounded("id", &id, 64)) {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        match memory::update(&env.services, &env.deployment_id, &env.secrets, &id, &content, self.origin()).await {
            Ok(m) => Ok(Ok(to_wit(m))),
            Err(e) => Ok(Err(for_guest(e)?)),
        }
    }

    async fn forget(&mut self, id: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = self.memory_enabled().and_then(|_| bounded("id", &id, 64)) {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        match memory::forget(&env.services, &env.deployment_id, &id, self.origin()).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(for_guest(e)?)),
        }
    }
}
