//! `automations`: the agent manages its own deployment's automations, through the
//! same validation as the REST API. Refused when `features.automations` is off, and
//! from inside an automation's own run unless `[automations]
//! allow_from_automation_runs` (a scheduled run that schedules runs is how loops start).

use std::sync::Arc;

use super::bounded;
use crate::HostError;
use crate::automations::{self, AutomationPatch, NewAutomation};
use crate::runtime::wit::hermes::agent::automations::{Automation, Host};
use crate::runtime::{RunEnv, RunState};

/// Longest id a guest may pass.
const MAX_ID: usize = 64;

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

/// A failure the guest can act on, or a host failure (which ends the run).
fn for_guest(e: HostError) -> wasmtime::Result<String> {
    match e {
        HostError::Validation { message, .. } | HostError::NotFound(message) | HostError::Conflict(message) => {
            Ok(message)
        }
        other => Err(other.into()),
    }
}

/// Why this run may not manage automations, if it may not. Takes the environment
/// (not the store data, which is not `Sync`) so the future stays `Send`.
async fn refused(env: Arc<RunEnv>) -> wasmtime::Result<Option<String>> {
    if !env.spec.features.automations {
        return Ok(Some("automations are disabled for this deployment (features.automations)".into()));
    }
    if env.services.config.automations.allow_from_automation_runs {
        return Ok(None);
    }
    let run_id = env.run_id.clone();
    let from_automation = env
        .services
        .db
        .read(move |conn| hermes_store::automations::is_automation_run(conn, &run_id))
        .await
        .map_err(HostError::from)?;
    Ok(from_automation.then(|| {
        "automations cannot be managed from inside an automation's run on this host \
         ([automations] allow_from_automation_runs)"
            .to_string()
    }))
}

impl Host for RunState {
    async fn create(
        &mut self,
        name: String,
        schedule: String,
        instructions: String,
    ) -> wasmtime::Result<Result<Automation, String>> {
        if let Some(why) = refused(self.env.clone()).await? {
            return Ok(Err(why));
        }
        // Sizes are checked again (as API input) by `create`; this only keeps huge
        // strings from crossing further.
        if let Err(e) = bounded("instructions", &instructions, super::MAX_TEXT)
            .and_then(|_| bounded("name", &name, 1024))
            .and_then(|_| bounded("schedule", &schedule, 1024))
        {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        let new = NewAutomation { name, schedule, instructions, ..NewAutomation::default() };
        match automations::create(&env.services, &env.deployment_id, new, Some(env.run_id.clone())).await {
            Ok(a) => Ok(Ok(to_wit(a))),
            Err(e) => for_guest(e).map(Err),
        }
    }

    async fn list_automations(&mut self) -> wasmtime::Result<Result<Vec<Automation>, String>> {
        if let Some(why) = refused(self.env.clone()).await? {
            return Ok(Err(why));
        }
        let env = self.env.clone();
        let all = automations::list_all(&env.services, &env.deployment_id).await?;
        Ok(Ok(all.into_iter().map(to_wit).collect()))
    }

    async fn set_enabled(&mut self, id: String, enabled: bool) -> wasmtime::Result<Result<Automation, String>> {
        if let Some(why) = refused(self.env.clone()).await? {
            return Ok(Err(why));
        }
        if let Err(e) = bounded("id", &id, MAX_ID) {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        let change = AutomationPatch { enabled: Some(enabled), ..AutomationPatch::default() };
        match automations::patch(&env.services, &env.deployment_id, &id, change).await {
            Ok(a) => Ok(Ok(to_wit(a))),
            Err(e) => for_guest(e).map(Err),
        }
    }

    async fn delete(&mut self, id: String) -> wasmtime::Result<Result<(), String>> {
        if let Some(why) = refused(self.env.clone()).await? {
            return Ok(Err(why));
        }
        if let Err(e) = bounded("id", &id, MAX_ID) {
            return Ok(Err(e));
        }
        let env = self.env.clone();
        match automations::delete(&env.services, &env.deployment_id, &id).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => for_guest(e).map(Err),
        }
    }
}
