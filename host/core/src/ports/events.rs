//! The events port: a guest's checked `custom.*` event, appended to its deployment's log.

use std::sync::Arc;

use async_trait::async_trait;
use hermes_events::{EventHub, NewEvent};
use hermes_runtime::ports::{EventsPort, PortError, PortResult};
use serde_json::{Map, Value};

use crate::run_scope::RunScope;

/// The event log of one run's deployment.
pub(crate) struct EventDesk {
    pub hub: EventHub,
    pub scope: Arc<RunScope>,
}

#[async_trait]
impl EventsPort for EventDesk {
    async fn emit(&self, kind: &str, payload: Map<String, Value>) -> PortResult<()> {
        let s = &self.scope;
        let event =
            NewEvent::new(kind, &s.deployment_id, Value::Object(payload)).scoped(Some(&s.thread_id), Some(&s.run_id));
        // A failure to persist is the host's, not the guest's.
        self.hub.append(event).await.map(|_| ()).map_err(PortError::host)
    }
}
