//! The memory port: the deployment's observational memory, through the same checks
//! as the REST API, written as the agent (`source: agent`) of this run.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_events::EventHub;
use hermes_runtime::ports::{MemoryPort, PortResult};
use hermes_runtime::wit::hermes::agent::memory::MemoryEntry;
use hermes_store::Db;
use hermes_store::memories::MemorySource;

use super::refusal;
use crate::memory::{self, MemoryObject, Origin};
use crate::run_scope::RunScope;

/// The memory of one run's deployment.
pub(crate) struct MemoryDesk {
    pub db: Db,
    pub hub: EventHub,
    pub scope: Arc<RunScope>,
}

fn to_wit(m: MemoryObject) -> MemoryEntry {
    MemoryEntry { id: m.memory_id, content: m.content, source: m.source, created_at: m.created_at }
}

impl MemoryDesk {
    fn origin(&self) -> Origin<'_> {
        let thread = Some(self.scope.thread_id.as_str()).filter(|t| !t.is_empty());
        Origin { source: MemorySource::Agent, thread_id: thread, run_id: Some(&self.scope.run_id) }
    }
}

#[async_trait]
impl MemoryPort for MemoryDesk {
    async fn recall(&self, query: &str, limit: u32) -> PortResult<Vec<MemoryEntry>> {
        let found = memory::recall(&self.db, &self.scope.deployment_id, query, limit).await.map_err(refusal)?;
        Ok(found.into_iter().map(|r| to_wit(r.into())).collect())
    }

    async fn add(&self, content: &str) -> PortResult<MemoryEntry> {
        let s = &self.scope;
        memory::add(&self.hub, &s.deployment_id, &s.secrets, content, self.origin()).await.map(to_wit).map_err(refusal)
    }

    async fn update(&self, id: &str, content: &str) -> PortResult<MemoryEntry> {
        let s = &self.scope;
        memory::update(&self.hub, &s.deployment_id, &s.secrets, id, content, self.origin())
            .await
            .map(to_wit)
            .map_err(refusal)
    }

    async fn forget(&self, id: &str) -> PortResult<()> {
        memory::forget(&self.hub, &self.scope.deployment_id, id, self.origin()).await.map_err(refusal)
    }
}
