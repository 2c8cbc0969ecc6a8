//! Automations: instructions a deployment runs on a schedule. Each fire is a normal
//! run (a user message with the instructions, on the automation's thread) started
//! through the same tables and events as `POST …/messages`, plus `automation` events.
//!
//! Missed-run policy: a slot is fired at most once, ever. After downtime, an
//! automation whose slots passed fires once as soon as the host is back (for the
//! earliest missed slot), and its next slot is the first one after "now": missed
//! slots are not replayed as a burst.

pub mod schedule;
pub(crate) mod scheduler;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use crate::clock::{Clock, ManualClock};
pub use schedule::Schedule;

use crate::HostError;
use crate::handle::Core;
use crate::services::Services;
use hermes_events::NewEvent;
use hermes_store::StoreError;
use hermes_store::automations::{self as store, AutomationRow, FireRow};
use hermes_store::runs;
use hermes_store::threads::{self, MessageRow, Role};
use hermes_types::paging::Page;

/// Longest automation name.
const MAX_NAME: usize = 100;
/// Longest instructions.
const MAX_INSTRUCTIONS: usize = 16 * 1024;
/// Fires listed by `GET …/automations/{aid}`.
const RECENT_FIRES: u32 = 20;

/// An automation as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Automation {
    /// `auto_…`
    pub automation_id: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Name.
    pub name: String,
    /// The schedule as written.
    pub schedule: String,
    /// The cron expression it runs on (`null` for intervals).
    pub cron: Option<String>,
    /// Seconds between runs, for intervals.
    pub interval_seconds: Option<u64>,
    /// IANA zone of cron schedules (`UTC` unless given).
    pub timezone: String,
    /// The message each run starts with.
    pub instructions: String,
    /// Thread its runs go to.
    pub thread_id: String,
    /// Whether the scheduler fires it.
    pub enabled: bool,
    /// RFC 3339 time of the next slot (`null` when disabled).
    pub next_run_at: Option<String>,
    /// RFC 3339 time of the last fire.
    pub last_run_at: Option<String>,
    /// Status of the last run (`queued`, `running`, `completed`, `error`, …) or `skipped`.
    pub last_run_status: Option<String>,
    /// The last run.
    pub last_run_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Latest fires, newest first (on `GET` of one automation only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_runs: Option<Vec<AutomationFire>>,
}

/// One fire of an automation.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AutomationFire {
    /// The run it started (`null` when skipped).
    pub run_id: Option<String>,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// The slot it fired for (RFC 3339; `null` for manual fires).
    pub scheduled_for: Option<String>,
    /// The run's status, or `skipped`.
    pub status: String,
    /// Why it was skipped: `insufficient_credits`, `thread_busy`, `deployment_not_ready`,
    /// `automations_disabled`.
    pub reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// What creating an automation takes.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NewAutomation {
    /// Name (1–100 chars, one line).
    pub name: String,
    /// Cron (5 fields), interval (`every 2h`) or an English form (`every Monday at 9am`).
    pub schedule: String,
    /// IANA zone for cron schedules (UTC when absent).
    pub timezone: Option<String>,
    /// The message each run starts with.
    pub instructions: String,
    /// Thread for its runs; absent = a dedicated thread created for it.
    pub thread_id: Option<String>,
    /// Whether it is scheduled (default true).
    pub enabled: Option<bool>,
}

/// A change to an automation (absent fields are kept).
#[derive(Clone, Debug, Default)]
pub struct AutomationPatch {
    /// New name.
    pub name: Option<String>,
    /// New schedule (re-anchors intervals at "now").
    pub schedule: Option<String>,
    /// New zone (`Some(None)` = back to UTC).
    pub timezone: Option<Option<String>>,
    /// New instructions.
    pub instructions: Option<String>,
    /// Another thread of the deployment.
    pub thread_id: Option<String>,
    /// Pause or resume; resuming schedules the first slot after "now".
    pub enabled: Option<bool>,
}

/// What `run now` (or a scheduled slot) started.
#[derive(Clone, Debug, Serialize)]
pub struct Fired {
    /// `auto_…`
    pub automation_id: String,
    /// The run it started (`null` when skipped).
    pub run_id: Option<String>,
    /// The thread the run went to.
    pub thread_id: String,
    /// `queued`, or `skipped`.
    pub status: &'static str,
    /// Why it was skipped.
    pub reason: Option<String>,
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl Automation {
    fn from_row(row: AutomationRow, recent: Option<Vec<FireRow>>) -> Automation {
        let parsed = Schedule::parse(&row.schedule, row.timezone.as_deref()).ok();
        Automation {
            automation_id: row.id,
            deployment_id: row.deployment_id,
            name: row.name,
            cron: parsed.as_ref().and_then(|s| s.cron_expr().map(str::to_string)),
            interval_seconds: parsed.as_ref().and_then(Schedule::interval).map(|d| d.as_secs()),
            schedule: row.schedule,
            timezone: row.timezone.unwrap_or_else(|| "UTC".into()),
            instructions: row.instructions,
            thread_id: row.thread_id,
            enabled: row.enabled,
            next_run_at: row.next_run_at.and_then(rfc3339),
            last_run_at: row.last_run_at,
            last_run_status: row.last_run_status,
            last_run_id: row.last_run_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            recent_runs: recent.map(|fires| {
                fires
                    .into_iter()
                    .map(|f| AutomationFire {
                        run_id: f.run_id,
                        trigger: f.trigger,
                        scheduled_for: f.slot.and_then(rfc3339),
                        status: f.status,
                        reason: f.reason,
                        created_at: f.created_at,
                    })
                    .collect()
            }),
        }
    }
}

fn validate_name(name: &str) -> Result<String, HostError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.contains(['\n', '\r']) {
        return Err(HostError::invalid("name", format!("`name` is 1–{MAX_NAME} characters on one line")));
    }
    Ok(name.to_string())
}

fn validate_instructions(text: &str) -> Result<String, HostError> {
    if text.trim().is_empty() || text.len() > MAX_INSTRUCTIONS {
        return Err(HostError::invalid(
            "instructions",
            format!("`instructions` must be non-empty and at most {MAX_INSTRUCTIONS} bytes"),
        ));
    }
    Ok(text.to_string())
}

fn parse_schedule(schedule: &str, timezone: Option<&str>) -> Result<Schedule, HostError> {
    Schedule::parse(schedule, timezone).map_err(|reason| {
        let param = if reason.contains("time zone") { "timezone" } else { "schedule" };
        HostError::invalid(param, reason)
    })
}

/// The next slot (unix ms) of an enabled schedule after `now`.
fn next_slot(schedule: &Schedule, enabled: bool, now: DateTime<Utc>, anchor_ms: i64) -> Option<i64> {
    let anchor = DateTime::from_timestamp_millis(anchor_ms).unwrap_or(now);
    enabled.then(|| schedule.next_after(now, anchor)).flatten().map(|t| t.timestamp_millis())
}

fn event(action: &str, a: &AutomationRow) -> NewEvent {
    NewEvent::new(
        "automation",
        &a.deployment_id,
        json!({"action": action, "automation_id": a.id, "name": a.name, "next_run_at": a.next_run_at.and_then(rfc3339)}),
    )
    .scoped(Some(&a.thread_id), None)
}

/// What changing a deployment's automations works with: the store, the hub, the
/// clock and the `[automations]` limits (what a run's automations port holds).
#[derive(Clone)]
pub(crate) struct Desk {
    pub db: hermes_store::Db,
    pub hub: hermes_events::EventHub,
    pub clock: Arc<dyn Clock>,
    pub limits: crate::config::AutomationsConfig,
}

impl Desk {
    /// The desk of a host.
    pub(crate) fn of(services: &Services) -> Desk {
        Desk {
            db: services.db.clone(),
            hub: services.hub.clone(),
            clock: services.clock.clone(),
            limits: services.config.automations.clone(),
        }
    }
}

/// Creates an automation (used by the API and by the agent's import).
pub(crate) async fn create(
    desk: &Desk,
    deployment_id: &str,
    new: NewAutomation,
    created_by_run: Option<String>,
) -> Result<Automation, HostError> {
    let name = validate_name(&new.name)?;
    let instructions = validate_instructions(&new.instructions)?;
    let timezone = new.timezone.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let schedule = parse_schedule(&new.schedule, timezone.as_deref())?;
    let now = desk.clock.now();
    let enabled = new.enabled.unwrap_or(true);
    let anchor_ms = now.timestamp_millis();
    let stamp = hermes_types::ids::now();
    let mut row = AutomationRow {
        id: hermes_types::ids::new_id("auto"),
        deployment_id: deployment_id.to_string(),
        name,
        schedule: new.schedule.trim().to_string(),
        timezone,
        instructions,
        thread_id: String::new(),
        dedicated_thread: new.thread_id.is_none(),
        enabled,
        next_run_at: next_slot(&schedule, enabled, now, anchor_ms),
        anchor_ms,
        last_run_at: None,
        last_run_status: None,
        last_run_id: None,
        created_at: stamp.clone(),
        updated_at: stamp,
    };
    let max = desk.limits.max_per_deployment;
    let given_thread = new.thread_id;
    let (row, _) = desk
        .hub
        .commit(deployment_id, move |conn| {
            if !hermes_store::deployments::exists(conn, &row.deployment_id)? {
                return Err(StoreError::NotFound(format!("deployment {}", row.deployment_id)));
            }
            if store::count(conn, &row.deployment_id)? >= max {
                return Err(StoreError::Conflict(format!("a deployment has at most {max} automations")));
            }
            row.thread_id = match given_thread {
                Some(t) => {
                    if !threads::thread_exists(conn, &row.deployment_id, &t)? {
                        return Err(StoreError::NotFound(format!("thread {t}")));
                    }
                    t
                }
                None => {
                    let t = hermes_types::ids::new_id("thr");
                    threads::insert_thread(
                        conn,
                        &row.deployment_id,
                        &t,
                        Some(&format!("Automation: {}", row.name)),
                        &hermes_types::ids::now(),
                    )?;
                    t
                }
            };
            store::insert(conn, &row, created_by_run.as_deref())?;
            let e = event("created", &row);
            Ok((row, vec![e]))
        })
        .await
        .map_err(HostError::from)?;
    tracing::info!(automation_id = %row.id, deployment_id = %row.deployment_id, "automation created");
    Ok(Automation::from_row(row, None))
}

/// Every automation of a deployment, newest first (the agent's list; at most the
/// per-deployment maximum).
pub(crate) async fn list_all(desk: &Desk, deployment_id: &str) -> Result<Vec<Automation>, HostError> {
    let (dep, limit) = (deployment_id.to_string(), desk.limits.max_per_deployment.min(10_000) as u32);
    let rows = desk.db.read(move |conn| store::list(conn, &dep, None, limit)).await?;
    Ok(rows.into_iter().map(|r| Automation::from_row(r, None)).collect())
}

/// Applies a patch (`NotFound` when the automation is not the deployment's).
pub(crate) async fn patch(
    desk: &Desk,
    deployment_id: &str,
    automation_id: &str,
    patch: AutomationPatch,
) -> Result<Automation, HostError> {
    let name = patch.name.as_deref().map(validate_name).transpose()?;
    let instructions = patch.instructions.as_deref().map(validate_instructions).transpose()?;
    let (dep, id) = (deployment_id.to_string(), automation_id.to_string());
    let current = desk
        .db
        .read(move |conn| store::get(conn, &dep, &id))
        .await?
        .ok_or_else(|| HostError::NotFound(format!("automation {automation_id} not found")))?;
    let mut row = current.clone();
    if let Some(n) = name {
        row.name = n;
    }
    if let Some(i) = instructions {
        row.instructions = i;
    }
    if let Some(tz) = patch.timezone {
        row.timezone = tz.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    }
    if let Some(s) = &patch.schedule {
        row.schedule = s.trim().to_string();
    }
    let schedule = parse_schedule(&row.schedule, row.timezone.as_deref())?;
    let now = desk.clock.now();
    let retimed = row.schedule != current.schedule || row.timezone != current.timezone;
    if retimed {
        row.anchor_ms = now.timestamp_millis();
    }
    if let Some(e) = patch.enabled {
        row.enabled = e;
    }
    if retimed || row.enabled != current.enabled {
        row.next_run_at = next_slot(&schedule, row.enabled, now, row.anchor_ms);
    }
    let new_thread = patch.thread_id.filter(|t| *t != current.thread_id);
    if let Some(t) = &new_thread {
        row.thread_id = t.clone();
        row.dedicated_thread = false;
    }
    let (row, _) = desk
        .hub
        .commit(deployment_id, move |conn| {
            if let Some(t) = &new_thread
                && !threads::thread_exists(conn, &row.deployment_id, t)?
            {
                return Err(StoreError::NotFound(format!("thread {t}")));
            }
            // `next_run_at` may have been claimed since it was read: a conditional
            // write would lose the patch, so the row is re-read under the writer lock
            // and only the schedule fields we did not change keep their stored value.
            let stored = store::get(conn, &row.deployment_id, &row.id)?
                .ok_or_else(|| StoreError::NotFound(format!("automation {}", row.id)))?;
            let mut row = row;
            if !retimed && row.enabled == current.enabled {
                row.next_run_at = stored.next_run_at;
            }
            store::update(conn, &row, &hermes_types::ids::now())?;
            let row = store::get(conn, &row.deployment_id, &row.id)?.unwrap_or(row);
            let action = match (current.enabled, row.enabled) {
                (true, false) => "paused",
                (false, true) => "resumed",
                _ => "updated",
            };
            let e = event(action, &row);
            Ok((row, vec![e]))
        })
        .await
        .map_err(HostError::from)?;
    Ok(Automation::from_row(row, None))
}

/// Deletes an automation; its dedicated thread (and the runs' history) stays.
pub(crate) async fn delete(desk: &Desk, deployment_id: &str, automation_id: &str) -> Result<(), HostError> {
    let (dep, id) = (deployment_id.to_string(), automation_id.to_string());
    desk.hub
        .commit(deployment_id, move |conn| {
            let row = store::get(conn, &dep, &id)?.ok_or_else(|| StoreError::NotFound(format!("automation {id}")))?;
            store::delete(conn, &dep, &id)?;
            Ok(((), vec![event("deleted", &row)]))
        })
        .await
        .map_err(HostError::from)?;
    Ok(())
}

/// How a fire came about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Trigger {
    /// A due slot (unix ms), claimed only if `next_run_at` still equals it; `next`
    /// is what `next_run_at` becomes.
    Slot { slot: i64, next: Option<i64> },
    /// `POST …/run`: runs now, outside the schedule.
    Manual,
}

/// Fires an automation: in one transaction, claims the slot (scheduled) and either
/// starts a run (user message + run + events) or records why it was skipped. Returns
/// `None` when the slot was claimed by someone else. The caller spawns the run.
pub(crate) async fn fire(
    services: &Arc<Services>,
    deployment_id: &str,
    automation_id: &str,
    trigger: Trigger,
) -> Result<Option<Fired>, HostError> {
    let mut fired = fire_all(services, deployment_id, vec![(automation_id.to_string(), trigger)]).await?;
    Ok(fired.pop())
}

/// Fires several automations of one deployment in one commit (the scheduler's path:
/// one writer round trip for many slots). Slots someone else claimed are left out.
pub(crate) async fn fire_all(
    services: &Arc<Services>,
    deployment_id: &str,
    jobs: Vec<(String, Trigger)>,
) -> Result<Vec<Fired>, HostError> {
    let dep = deployment_id.to_string();
    let now_text = services.clock.now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let (fired, _) = services
        .hub
        .commit(deployment_id, move |conn| {
            let mut all = Vec::with_capacity(jobs.len());
            let mut events = Vec::with_capacity(jobs.len() * 2);
            for (id, trigger) in jobs {
                if let Some(f) = fire_in(conn, &dep, &id, trigger, &now_text, &mut events)? {
                    all.push(f);
                }
            }
            Ok((all, events))
        })
        .await
        .map_err(HostError::from)?;
    for f in &fired {
        match &f.reason {
            Some(reason) => tracing::info!(automation_id = %f.automation_id, %reason, "automation slot skipped"),
            None => tracing::debug!(automation_id = %f.automation_id, run_id = ?f.run_id, "automation fired"),
        }
    }
    Ok(fired)
}

/// One fire inside the writer's transaction; its events are added to `events`.
fn fire_in(
    conn: &hermes_store::Tx<'_>,
    dep: &str,
    id: &str,
    trigger: Trigger,
    now_text: &str,
    events: &mut Vec<NewEvent>,
) -> Result<Option<Fired>, StoreError> {
    let (record, slot) = match trigger {
        Trigger::Slot { slot, next } => {
            let Some(record) = store::claim(conn, id, slot, next, &hermes_types::ids::now())? else {
                return Ok(None);
            };
            (record, Some(slot))
        }
        Trigger::Manual => {
            if store::get(conn, dep, id)?.is_none() {
                return Err(StoreError::NotFound(format!("automation {id}")));
            }
            (store::record_manual(conn, id, &hermes_types::ids::now())?, None)
        }
    };
    let a = store::get(conn, dep, id)?.ok_or_else(|| StoreError::NotFound(format!("automation {id}")))?;
    let reason = skip_reason(conn, &a)?;
    let run_id = match (reason, trigger) {
        // Asked for by a client: answer the reason instead of recording a skip.
        (Some(r), Trigger::Manual) => {
            return Err(match r {
                Skip::Credits(balance) => StoreError::InsufficientCredits(balance),
                other => StoreError::Conflict(other.explain().into()),
            });
        }
        (Some(_), Trigger::Slot { .. }) => None,
        (None, _) => {
            let run_id = hermes_types::ids::new_id("run");
            runs::insert(conn, &run_id, dep, &a.thread_id, crate::instance::id(), &hermes_types::ids::now(), None)?;
            let msg = MessageRow {
                id: hermes_types::ids::new_id("msg"),
                thread_id: a.thread_id.clone(),
                run_id: Some(run_id.clone()),
                role: Role::User,
                content: a.instructions.clone(),
                tool_calls: Vec::new(),
                tool_call_id: None,
                is_error: false,
                delivered: true,
                created_at: hermes_types::ids::now(),
                attachments: Vec::new(),
            };
            threads::insert_message(conn, &msg)?;
            let payload = json!({"message_id": msg.id, "role": "user", "content": msg.content,
                "steering": false, "automation_id": a.id});
            events.push(NewEvent::new("message", dep, payload).scoped(Some(&a.thread_id), Some(&run_id)));
            Some(run_id)
        }
    };
    let reason_code = reason.map(|r| r.code());
    store::settle(conn, id, record, run_id.as_deref(), reason_code, now_text)?;
    let trigger_name = if slot.is_some() { "schedule" } else { "manual" };
    let payload = json!({
        "action": if run_id.is_some() { "fired" } else { "skipped" },
        "automation_id": a.id,
        "name": a.name,
        "trigger": trigger_name,
        "scheduled_for": slot.and_then(rfc3339),
        "reason": reason_code,
        "next_run_at": a.next_run_at.and_then(rfc3339),
    });
    events.push(NewEvent::new("automation", dep, payload).scoped(Some(&a.thread_id), run_id.as_deref()));
    let status = if run_id.is_some() { "queued" } else { "skipped" };
    let fired =
        Fired { automation_id: a.id, run_id, thread_id: a.thread_id, status, reason: reason_code.map(str::to_string) };
    Ok(Some(fired))
}

/// Why a fire does not start a run.
#[derive(Clone, Copy, Debug)]
enum Skip {
    /// The account's balance (≤ 0).
    Credits(i64),
    Busy,
    NotReady,
    FeatureOff,
}

impl Skip {
    fn code(self) -> &'static str {
        match self {
            Skip::Credits(_) => "insufficient_credits",
            Skip::Busy => "thread_busy",
            Skip::NotReady => "deployment_not_ready",
            Skip::FeatureOff => "automations_disabled",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            Skip::Credits(_) => "the account has no credits left",
            Skip::Busy => "a run is already active on the automation's thread; wait for it or cancel it",
            Skip::NotReady => "the deployment is not ready",
            Skip::FeatureOff => "the deployment's `features.automations` is off",
        }
    }
}

fn skip_reason(conn: &hermes_store::Tx<'_>, a: &AutomationRow) -> Result<Option<Skip>, StoreError> {
    let Some(facts) = store::deployment_facts(conn, &a.deployment_id)? else {
        return Err(StoreError::NotFound(format!("deployment {}", a.deployment_id)));
    };
    if facts.status != "ready" {
        return Ok(Some(Skip::NotReady));
    }
    if !facts.feature_on {
        return Ok(Some(Skip::FeatureOff));
    }
    // The same check, in the same transaction, as a message's (`runs::send`).
    if let Some(balance) = facts.credits
        && balance <= 0
    {
        return Ok(Some(Skip::Credits(balance)));
    }
    if runs::active_on_thread(conn, &a.thread_id)?.is_some() {
        return Ok(Some(Skip::Busy));
    }
    Ok(None)
}

impl Core {
    /// Creates an automation on a deployment of `account_id`.
    pub async fn create_automation(
        &self,
        account_id: &str,
        deployment_id: &str,
        new: NewAutomation,
    ) -> Result<Automation, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        create(&Desk::of(self.services()), deployment_id, new, None).await
    }

    /// Lists a deployment's automations, newest first; `cursor` is the last
    /// automation id of the previous page.
    pub async fn list_automations(
        &self,
        account_id: &str,
        deployment_id: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Automation>, HostError> {
        HostError::check_limit(limit)?;
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, cur) = (deployment_id.to_string(), cursor.map(str::to_string));
        let rows = self
            .services()
            .db
            .read(move |conn| {
                if let Some(c) = &cur
                    && !store::exists(conn, &dep, c)?
                {
                    return Ok(None);
                }
                store::list(conn, &dep, cur.as_deref(), limit + 1).map(Some)
            })
            .await?
            .ok_or_else(HostError::unknown_cursor)?;
        Ok(Page::cut(rows, limit, |r| r.id.clone(), |r| Automation::from_row(r, None)))
    }

    /// One automation with its recent runs.
    pub async fn automation(
        &self,
        account_id: &str,
        deployment_id: &str,
        automation_id: &str,
    ) -> Result<Automation, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        let (dep, id) = (deployment_id.to_string(), automation_id.to_string());
        let (row, fires) = self
            .services()
            .db
            .read(move |conn| {
                let Some(row) = store::get(conn, &dep, &id)? else { return Ok(None) };
                let fires = store::recent_fires(conn, &id, RECENT_FIRES)?;
                Ok(Some((row, fires)))
            })
            .await?
            .ok_or_else(|| HostError::NotFound(format!("automation {automation_id} not found")))?;
        Ok(Automation::from_row(row, Some(fires)))
    }

    /// Changes an automation (name, schedule, timezone, instructions, thread, enabled).
    pub async fn patch_automation(
        &self,
        account_id: &str,
        deployment_id: &str,
        automation_id: &str,
        change: AutomationPatch,
    ) -> Result<Automation, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        patch(&Desk::of(self.services()), deployment_id, automation_id, change).await
    }

    /// Deletes an automation.
    pub async fn delete_automation(
        &self,
        account_id: &str,
        deployment_id: &str,
        automation_id: &str,
    ) -> Result<(), HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        delete(&Desk::of(self.services()), deployment_id, automation_id).await
    }

    /// Runs an automation now, outside its schedule (its next slot is unchanged).
    /// No credits → `InsufficientCredits`; a run already active on its thread → `Conflict`.
    pub async fn run_automation(
        &self,
        account_id: &str,
        deployment_id: &str,
        automation_id: &str,
    ) -> Result<Fired, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        let fired = fire(self.services(), deployment_id, automation_id, Trigger::Manual)
            .await?
            .ok_or_else(|| HostError::Conflict("the automation changed meanwhile; retry".into()))?;
        if let Some(run_id) = &fired.run_id {
            self.start_run(run_id.clone());
        }
        Ok(fired)
    }

    /// One scheduler pass now: fires every automation due at the clock's "now"
    /// (what the host's scheduler does each `[automations] tick_ms`); returns how
    /// many slots this call claimed (fired or skipped).
    pub async fn run_due_automations(&self) -> Result<usize, HostError> {
        scheduler::tick(self.services(), self.starter.as_ref()).await
    }
}
