//! The subagents port: child runs of the run, started through the run manager.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_runtime::PortError;
use hermes_runtime::ports::{Delegate, PortResult, SubagentsPort};
use hermes_runtime::wit::hermes::agent::subagents::Child;

use super::refusal;
use crate::HostError;
use crate::handle::RunStarter;
use crate::run_scope::RunScope;
use crate::services::Services;

/// The delegations of one run (a dream has no starter, so it cannot delegate).
pub(crate) struct Delegator {
    pub services: Arc<Services>,
    pub scope: Arc<RunScope>,
    pub starter: Option<Arc<dyn RunStarter>>,
}

#[async_trait]
impl SubagentsPort for Delegator {
    async fn delegate(&self, delegation: Delegate) -> PortResult<Child> {
        let Some(starter) = &self.starter else {
            return Err(PortError::Guest("only a run of a thread can delegate to subagents".into()));
        };
        let (child, start) =
            crate::subagents::delegate(&self.services, &self.scope, delegation).await.map_err(|e| {
                match e {
                    // Bounds the model can act on (credits, a full queue) are its to read.
                    HostError::RateLimited { message, .. } => PortError::Guest(message),
                    HostError::InsufficientCredits(m) => PortError::Guest(m),
                    other => refusal(other),
                }
            })?;
        if let Some(run_id) = start {
            starter.start(run_id);
        }
        Ok(child)
    }
}
