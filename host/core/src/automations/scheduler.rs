//! The scheduler: one task owned by the `Host`. Each tick it reads the automations
//! due at the clock's "now" and fires each one through a claim that only one tick
//! of one process can win (see `store::automations::claim`), then spawns the runs.
//! All state is in SQLite, so a restart simply resumes ticking.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::{Schedule, Trigger};
use crate::HostError;
use crate::handle::RunStarter;
use crate::services::Services;
use hermes_store::automations as store;

/// Due automations read per query.
const BATCH: u32 = 2048;
/// Slots of one deployment fired in one writer job.
const CHUNK: usize = 64;
/// Writer jobs in flight at once: enough to fill the store's group commits.
const CONCURRENCY: usize = 64;
/// Shortest tick.
const MIN_TICK: Duration = Duration::from_millis(20);

/// Starts the scheduler task; it ends when the host shuts down.
pub(crate) fn spawn(services: Arc<Services>, runs: Arc<dyn RunStarter>) {
    let tick = Duration::from_millis(services.config.automations.tick_ms).max(MIN_TICK);
    services.clone().tasks.spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = services.shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            if let Err(e) = self::tick(&services, runs.as_ref()).await {
                if services.shutdown.is_cancelled() {
                    break;
                }
                tracing::warn!(error = %e, "automation scheduler tick failed; retrying next tick");
            }
        }
    });
}

/// One pass: fires every automation due at "now"; returns how many slots it claimed.
/// Slots are claimed in chunks of one deployment's automations (one writer round trip
/// each); the runs are spawned once the whole pass has claimed, so claiming is never
/// slowed down by the runs it starts.
pub(crate) async fn tick(services: &Arc<Services>, runs: &dyn RunStarter) -> Result<usize, HostError> {
    let now = services.clock.now();
    let now_ms = now.timestamp_millis();
    let mut claimed = 0;
    let mut started = Vec::new();
    let mut parsed: HashMap<(String, Option<String>), Result<Schedule, String>> = HashMap::new();
    let outcome = loop {
        let due = match services.db.read(move |conn| store::due(conn, now_ms, BATCH)).await {
            Ok(due) => due,
            Err(e) => break Err(HostError::from(e)),
        };
        let full = due.len() == BATCH as usize;
        if due.is_empty() {
            break Ok(());
        }
        let mut by_deployment: HashMap<String, Vec<(String, Trigger)>> = HashMap::new();
        for d in due {
            // Many automations share a schedule: parse each distinct one once per pass.
            let key = (d.schedule, d.timezone);
            let parsed = match parsed.get(&key) {
                Some(p) => p,
                None => parsed.entry(key.clone()).or_insert_with(|| Schedule::parse(&key.0, key.1.as_deref())),
            };
            // Missed-run policy: whatever slot is due fires once; the next slot is the
            // first after "now", so a long downtime is not replayed.
            let next = match parsed {
                Ok(s) => super::next_slot(s, true, now, d.anchor_ms),
                Err(reason) => {
                    // Stored schedules were valid when written; a zone database or
                    // parser change could still reject one. Stop it rather than loop.
                    tracing::warn!(automation_id = %d.id, %reason, "stored schedule no longer parses; stopping it");
                    None
                }
            };
            by_deployment.entry(d.deployment_id).or_default().push((d.id, Trigger::Slot { slot: d.slot, next }));
        }
        let chunks: Vec<(String, Vec<(String, Trigger)>)> = by_deployment
            .into_iter()
            .flat_map(|(dep, jobs)| {
                let mut jobs = jobs.into_iter().peekable();
                let mut out = Vec::new();
                while jobs.peek().is_some() {
                    out.push((dep.clone(), jobs.by_ref().take(CHUNK).collect()));
                }
                out
            })
            .collect();
        let results: Vec<Result<Vec<super::Fired>, HostError>> = futures::stream::iter(chunks)
            .map(|(dep, jobs)| async move { super::fire_all(services, &dep, jobs).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut won = 0;
        for r in results {
            match r {
                Ok(fired) => {
                    won += fired.len();
                    started.extend(fired.into_iter().filter_map(|f| f.run_id));
                }
                // One deployment failing does not stop the others; its slots stay due.
                Err(e) => tracing::warn!(error = %e, "firing automations failed"),
            }
        }
        claimed += won;
        // Another process took this batch (or it all failed): do not spin on it.
        if !full || won == 0 {
            break Ok(());
        }
    };
    // Claimed runs start even when a later query failed: they are committed.
    for run_id in started {
        runs.start(run_id);
    }
    outcome.map(|()| claimed)
}

/// Environment variable that must be `1` for `[automations] clock_file` to apply.
pub const TEST_CLOCK_ENV: &str = "HERMES_ALLOW_TEST_CLOCK";

/// The clock a host runs with: the builder's, else the testing file clock when both
/// the config key and [`TEST_CLOCK_ENV`] ask for it, else the system clock. One of
/// the two without the other is an error, so a test clock is never on by accident.
pub(crate) async fn clock(
    given: Option<Arc<dyn crate::clock::Clock>>,
    config: &crate::config::AutomationsConfig,
    env: &std::collections::HashMap<String, String>,
) -> Result<Arc<dyn crate::clock::Clock>, HostError> {
    let allowed = env.get(TEST_CLOCK_ENV).is_some_and(|v| v == "1");
    match (&config.clock_file, allowed) {
        (Some(path), true) => {
            tracing::warn!(path = %path.display(), "TESTING: the automation scheduler reads its time from a file");
            let path = path.clone();
            let clock = tokio::task::spawn_blocking(move || crate::clock::FileClock::new(path)).await.map_err(|e| {
                HostError::Io { context: "starting the test clock".into(), source: std::io::Error::other(e) }
            })?;
            Ok(Arc::new(clock))
        }
        (Some(_), false) => Err(HostError::invalid(
            "automations.clock_file",
            format!("`[automations] clock_file` is for tests only and needs {TEST_CLOCK_ENV}=1 in the environment"),
        )),
        (None, true) => Err(HostError::invalid(
            "automations.clock_file",
            format!("{TEST_CLOCK_ENV}=1 is set but `[automations] clock_file` is not; unset it"),
        )),
        (None, false) => Ok(given.unwrap_or_else(|| Arc::new(crate::clock::SystemClock))),
    }
}
