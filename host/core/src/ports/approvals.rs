//! The approvals port: the deployment's approval policy, and its durable approvals
//! (opened once per call, announced with `steering_request`).

use std::sync::Arc;

use async_trait::async_trait;
use hermes_events::EventHub;
use hermes_runtime::ports::{ApprovalsPort, Ask, PortResult};
use hermes_runtime::wit::hermes::agent::approvals::Decision;
use hermes_store::approvals::ApprovalStatus;

use super::refusal;
use crate::approvals::{self, policy};
use crate::run_scope::RunScope;

/// The approvals of one run.
pub(crate) struct ApprovalDesk {
    pub hub: EventHub,
    pub scope: Arc<RunScope>,
}

#[async_trait]
impl ApprovalsPort for ApprovalDesk {
    fn requires_approval(&self, tool: &str) -> bool {
        policy::requires(&self.scope.spec, tool)
    }

    async fn request(&self, ask: Ask) -> PortResult<Decision> {
        let row = approvals::open(&self.hub, &self.scope, ask).await.map_err(refusal)?;
        Ok(match row.status {
            ApprovalStatus::Pending => Decision::Pending(row.id),
            ApprovalStatus::Approved => Decision::Approved(row.comment),
            ApprovalStatus::Rejected
            | ApprovalStatus::Superseded
            | ApprovalStatus::Expired
            | ApprovalStatus::Cancelled => Decision::Rejected(row.comment),
        })
    }
}
