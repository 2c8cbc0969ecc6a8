//! The automations port: the agent manages its own deployment's schedules through
//! the same validation as the REST API. Refused when `features.automations` is off,
//! and from inside an automation's own run unless `[automations]
//! allow_from_automation_runs` (a scheduled run that schedules runs is how loops start).

use std::sync::Arc;

use async_trait::async_trait;
use hermes_runtime::ports::{AutomationsPort, PortError, PortResult};
use hermes_runtime::wit::hermes::agent::automations::Automation;

use super::refusal;
use crate::automations::{self, AutomationPatch, Desk, NewAutomation};
use crate::run_scope::RunScope;

/// The automations of one run's deployment.
pub(crate) struct AutomationDesk {
    pub desk: Desk,
    pub scope: Arc<RunScope>,
}

fn to_wit(a: automations::Automation) -> Automation {
    Automation {
        id: a.automation_id,
        name: a.name,
        schedule: a.schedule,
        instructions: a.instructions,
        enabled: a.enabled,
        next_run_at: a.next_run_at,
    }
}

#[async_trait]
impl AutomationsPort for AutomationDesk {
    async fn refused(&self) -> PortResult<Option<String>> {
        if !self.scope.spec.features.automations {
            return Ok(Some("automations are disabled for this deployment (features.automations)".into()));
        }
        if self.desk.limits.allow_from_automation_runs {
            return Ok(None);
        }
        let run_id = self.scope.run_id.clone();
        let from_automation = self
            .desk
            .db
            .read(move |conn| hermes_store::automations::is_automation_run(conn, &run_id))
            .await
            .map_err(PortError::host)?;
        Ok(from_automation.then(|| {
            "automations cannot be managed from inside an automation's run on this host \
             ([automations] allow_from_automation_runs)"
                .to_string()
        }))
    }

    async fn create(&self, name: String, schedule: String, instructions: String) -> PortResult<Automation> {
        let new = NewAutomation { name, schedule, instructions, ..NewAutomation::default() };
        let (dep, run) = (&self.scope.deployment_id, Some(self.scope.run_id.clone()));
        automations::create(&self.desk, dep, new, run).await.map(to_wit).map_err(refusal)
    }

    async fn list(&self) -> PortResult<Vec<Automation>> {
        let all = automations::list_all(&self.desk, &self.scope.deployment_id).await.map_err(refusal)?;
        Ok(all.into_iter().map(to_wit).collect())
    }

    async fn set_enabled(&self, id: &str, enabled: bool) -> PortResult<Automation> {
        let change = AutomationPatch { enabled: Some(enabled), ..AutomationPatch::default() };
        automations::patch(&self.desk, &self.scope.deployment_id, id, change).await.map(to_wit).map_err(refusal)
    }

    async fn delete(&self, id: &str) -> PortResult<()> {
        automations::delete(&self.desk, &self.scope.deployment_id, id).await.map_err(refusal)
    }
}
