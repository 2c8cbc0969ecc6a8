//! Dreaming: idle-time self-learning. The host runs the harness's `dream` export in
//! a fresh instance (same sandbox, same limits, its own `run_…` id and events) to
//! consolidate memory and write or improve skills in `.hermes/skills/`.
//!
//! Triggers: the idle loop (a deployment with `features.dreaming`, idle for
//! `[dreaming] idle_minutes`, with runs newer than its last dream) and
//! [`Host::dream`] (`POST …/dream`). At most one dream per deployment at a time; a
//! user message cancels a live dream (conversations come first). A `dream` event
//! announces the start and summarises the end (memory changes, skills written); new
//! or changed skills also get `skill` events, each validated like any SKILL.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::deployments::Deployment;
use crate::handle::Core;
use crate::instances::{self, Instance, Purpose};
use crate::services::Services;
use crate::skills_api::{self, SkillObject};
use crate::{HostError, workspace};
use hermes_events::NewEvent;
use hermes_runtime::InstanceOutcome;
use hermes_store::deployments::DeploymentStatus;
use hermes_store::memories::{self as store};
use hermes_store::runs;

/// Deployments started per idle check at most (the rest wait for the next check).
const MAX_PER_CHECK: u32 = 16;

/// What started a dream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DreamTrigger {
    /// The idle loop.
    Idle,
    /// `POST …/dream` or [`Host::dream`].
    Api,
}

impl DreamTrigger {
    fn as_str(self) -> &'static str {
        match self {
            DreamTrigger::Idle => "idle",
            DreamTrigger::Api => "api",
        }
    }
}

/// Memory entries a dream changed.
#[derive(Clone, Debug, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MemoryChanges {
    /// Entries added.
    pub added: u32,
    /// Entries rewritten (merges keep one entry, rewritten).
    pub updated: u32,
    /// Entries removed (merged away or stale).
    pub forgotten: u32,
}

/// A skill a dream created or changed.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SkillChange {
    /// `skl_…`
    pub skill_id: String,
    /// Skill name.
    pub name: String,
    /// `created` or `updated`.
    pub action: String,
    /// Whether the SKILL.md passes the validator.
    pub valid: bool,
    /// The validator's errors, when invalid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A dream, as `POST …/dream` answers it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DreamObject {
    /// `run_…`: the dream's own run id (its events carry it).
    pub dream_id: String,
    /// `dep_…`
    pub deployment_id: String,
    /// `idle` or `api`.
    pub trigger: String,
    /// `running`, `completed`, `error` or `cancelled`.
    pub status: String,
    /// What the dream did, in a paragraph.
    pub summary: Option<String>,
    /// Why it failed or stopped.
    pub error: Option<String>,
    /// Memory entries changed.
    pub memories: MemoryChanges,
    /// Skills created or changed.
    pub skills: Vec<SkillChange>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
}

/// Starts a dream for a deployment; the returned handle resolves when it ends.
pub(crate) async fn start(
    services: &Arc<Services>,
    deployment_id: &str,
    trigger: DreamTrigger,
) -> Result<(DreamObject, tokio::task::JoinHandle<DreamObject>), HostError> {
    let d = crate::deployments::get(services, deployment_id).await?;
    if d.status != DeploymentStatus::Ready {
        return Err(HostError::NotReady(format!("deployment {deployment_id} is not ready")));
    }
    if !d.spec.features.memory {
        return Err(HostError::Conflict(
            "memory is disabled for this deployment; there is nothing to dream about".into(),
        ));
    }
    let claim = services
        .dreams
        .claim(deployment_id)
        .ok_or_else(|| HostError::Conflict(format!("deployment {deployment_id} is already dreaming")))?;
    let dep = deployment_id.to_string();
    if !services.db.read(move |conn| runs::active_of_deployment(conn, &dep)).await?.is_empty() {
        return Err(HostError::Conflict(format!(
            "deployment {deployment_id} has an active run; dreams wait until it is idle"
        )));
    }
    let dream = DreamObject {
        dream_id: hermes_types::ids::new_id("run"),
        deployment_id: deployment_id.to_string(),
        trigger: trigger.as_str().into(),
        status: "running".into(),
        summary: None,
        error: None,
        memories: MemoryChanges::default(),
        skills: Vec::new(),
        created_at: hermes_types::ids::now(),
        finished_at: None,
    };
    let started = NewEvent::new(
        "dream",
        deployment_id,
        json!({"dream_id": dream.dream_id, "status": "running", "trigger": dream.trigger}),
    )
    .scoped(None, Some(&dream.dream_id));
    let (id, dep, trig, at) =
        (dream.dream_id.clone(), deployment_id.to_string(), dream.trigger.clone(), dream.created_at.clone());
    let (_, events) = services
        .hub
        .commit(deployment_id, move |conn| {
            store::insert_dream(conn, &id, &dep, &trig, &at)?;
            Ok(((), vec![started]))
        })
        .await?;
    let after = events.last().map_or(0, |e| e.sequence);
    let span = tracing::info_span!("dream", deployment_id = %deployment_id, dream_id = %dream.dream_id);
    let (services, running, tasks) = (services.clone(), dream.clone(), services.tasks.clone());
    let handle = tasks.spawn(
        async move {
            let cancel = claim.cancel.clone();
            let finished = execute(&services, d, running, cancel, after).await;
            drop(claim);
            finished
        }
        .instrument(span),
    );
    Ok((dream, handle))
}

/// Runs the dream to its end and records it; never fails (failures become `error`).
async fn execute(
    services: &Arc<Services>,
    d: Deployment,
    mut dream: DreamObject,
    cancel: CancellationToken,
    after: u64,
) -> DreamObject {
    let before = skills_snapshot(services, &d).await;
    let outcome = run_instance(services, &d, &dream.dream_id, cancel.clone()).await;
    let (status, summary, error) = match outcome {
        _ if cancel.is_cancelled() => {
            ("cancelled", None, Some("a user message arrived; conversations come first".into()))
        }
        _ if services.shutdown.is_cancelled() => ("cancelled", None, Some("the host shut down".into())),
        InstanceOutcome::Completed(summary) => ("completed", Some(summary), None),
        InstanceOutcome::Failed(e) => ("error", None, Some(e)),
        InstanceOutcome::Waiting(_) => {
            ("error", None, Some("the dream returned `waiting`; only runs can wait on a human".into()))
        }
    };
    dream.status = status.into();
    dream.summary = summary;
    dream.error = error;
    dream.skills = skill_changes(services, &d, before).await;
    dream.memories = memory_changes(services, &d.deployment_id, &dream.dream_id, after).await;
    dream.finished_at = Some(hermes_types::ids::now());
    if let Err(e) = record(services, &dream).await {
        tracing::error!(error = %e, "recording the dream failed");
    }
    tracing::info!(status = %dream.status, skills = dream.skills.len(), "dream finished");
    dream
}

/// One instance of the deployment's harness, calling its `dream` export, in an
/// instance slot like any run.
async fn run_instance(
    services: &Arc<Services>,
    d: &Deployment,
    dream_id: &str,
    cancel: CancellationToken,
) -> InstanceOutcome {
    let instance = Instance {
        deployment_id: &d.deployment_id,
        account_id: &d.account_id,
        spec: &d.spec,
        // A dream belongs to no thread: its events carry only its run id.
        thread_id: "",
        run_id: dream_id,
        purpose: Purpose::Dream,
        cancel,
        run: None,
    };
    let tenant = hermes_runtime::Tenant { account: d.account_id.clone(), deployment: d.deployment_id.clone() };
    let slot = services.runtime.slot(&tenant).await;
    let started = std::time::Instant::now();
    let outcome = instances::launch(services, instance, None).await;
    drop(slot);
    tracing::debug!(elapsed = ?started.elapsed(), "dream instance done");
    outcome
}

/// Name → (id, SKILL.md text) of every skill of the deployment.
async fn skills_snapshot(services: &Services, d: &Deployment) -> BTreeMap<String, (SkillObject, Option<String>)> {
    match skills_api::list(services, d, true).await {
        Ok(list) => list.into_iter().map(|s| (s.name.clone(), (s.clone(), s.content))).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing skills for the dream failed");
            BTreeMap::new()
        }
    }
}

/// Skills created or changed since `before`, each validated.
async fn skill_changes(
    services: &Services,
    d: &Deployment,
    before: BTreeMap<String, (SkillObject, Option<String>)>,
) -> Vec<SkillChange> {
    let after = skills_snapshot(services, d).await;
    let root = workspace::path(&services.data_dir, &d.deployment_id);
    let mut changes = Vec::new();
    for (name, (skill, text)) in after {
        let action = match before.get(&name) {
            None => "created",
            Some((_, old)) if *old != text => "updated",
            Some(_) => continue,
        };
        let dir = root.join(&skill.path);
        let dir = dir.parent().map(std::path::Path::to_path_buf).unwrap_or(dir);
        let report = tokio::task::spawn_blocking(move || crate::skills::validate::validate_dir(&dir)).await;
        let errors = match report {
            Ok(r) => r.errors.iter().map(ToString::to_string).collect(),
            Err(e) => vec![format!("validation did not run: {e}")],
        };
        changes.push(SkillChange {
            skill_id: skill.skill_id,
            name,
            action: action.into(),
            valid: errors.is_empty(),
            errors,
        });
    }
    changes
}

/// Counts the `memory` events the dream's run emitted (after its start event).
async fn memory_changes(services: &Services, deployment_id: &str, dream_id: &str, after: u64) -> MemoryChanges {
    let (dep, id) = (deployment_id.to_string(), dream_id.to_string());
    let actions = services.db.read(move |conn| store::memory_actions_of_run(conn, &dep, &id, after)).await;
    let mut out = MemoryChanges::default();
    for action in actions.unwrap_or_default() {
        match action.as_str() {
            "added" => out.added += 1,
            "updated" => out.updated += 1,
            "forgotten" => out.forgotten += 1,
            _ => {}
        }
    }
    out
}

/// Persists the dream's end with its `skill` and `dream` events, in one commit.
async fn record(services: &Services, dream: &DreamObject) -> Result<(), HostError> {
    let dep = dream.deployment_id.clone();
    let mut events: Vec<NewEvent> = dream
        .skills
        .iter()
        .map(|s| {
            NewEvent::new(
                "skill",
                &dep,
                json!({"action": s.action, "skill_id": s.skill_id, "name": s.name, "source": "agent",
                       "valid": s.valid, "errors": s.errors}),
            )
            .scoped(None, Some(&dream.dream_id))
        })
        .collect();
    let mut payload = json!({
        "dream_id": dream.dream_id, "status": dream.status, "trigger": dream.trigger,
        "summary": dream.summary, "memories": dream.memories, "skills": dream.skills,
    });
    if let Some(e) = &dream.error {
        payload["error"] = json!(e);
    }
    events.push(NewEvent::new("dream", &dep, payload).scoped(None, Some(&dream.dream_id)));
    let d = dream.clone();
    let now = d.finished_at.clone().unwrap_or_else(hermes_types::ids::now);
    services
        .hub
        .commit(&dep, move |conn| {
            store::finish_dream(conn, &d.dream_id, &d.status, d.summary.as_deref(), d.error.as_deref(), &now)?;
            Ok(((), events))
        })
        .await?;
    Ok(())
}

/// Starts the idle-dream loop (owned by the host; stops at shutdown). Dreams a
/// previous process left running are marked cancelled first.
pub(crate) fn spawn(services: Arc<Services>) {
    services.clone().tasks.spawn(async move {
        let now = hermes_types::ids::now();
        if let Err(e) = services.db.write(move |conn| store::abandon_running_dreams(conn, &now)).await {
            tracing::warn!(error = %e, "could not close dreams interrupted by a restart");
        }
        let every = Duration::from_secs(services.config.dreaming.check_interval_secs.max(1));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = services.shutdown.cancelled() => return,
            }
            if let Err(e) = check_idle(&services).await {
                tracing::warn!(error = %e, "the idle-dream check failed");
            }
        }
    });
}

/// One pass: starts a dream for each idle deployment with new activity.
async fn check_idle(services: &Arc<Services>) -> Result<(), HostError> {
    let idle = chrono::Duration::from_std(services.config.dreaming.idle()).unwrap_or(chrono::Duration::MAX);
    let before = (chrono::Utc::now() - idle).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let ids = services.db.read(move |conn| store::idle_dream_candidates(conn, &before, MAX_PER_CHECK)).await?;
    for id in ids {
        match start(services, &id, DreamTrigger::Idle).await {
            Ok(_) => tracing::info!(deployment_id = %id, "idle deployment started dreaming"),
            Err(e) => tracing::debug!(deployment_id = %id, error = %e, "idle dream not started"),
        }
    }
    Ok(())
}

impl Core {
    /// Starts a dream now (ops and tests); with `wait`, returns once it has ended.
    /// Refused (409) while the deployment has an active run or is already dreaming.
    pub async fn dream(&self, account_id: &str, deployment_id: &str, wait: bool) -> Result<DreamObject, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        let (running, handle) = start(self.services(), deployment_id, DreamTrigger::Api).await?;
        if !wait {
            return Ok(running);
        }
        handle
            .await
            .map_err(|e| HostError::Io { context: "waiting for the dream".into(), source: std::io::Error::other(e) })
    }
}
