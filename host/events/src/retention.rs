//! Event retention: a background task removes old events, oldest first, keeping a
//! contiguous tail per deployment (so a resume is exact or refused, never gappy).

use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::EventHub;
use hermes_store::{Db, StoreError, events as log};

/// `[events]` in `hermes.toml`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events older than this are removed (default 168 = 7 days).
    pub retention_hours: u64,
    /// The newest events of each deployment always kept, however old (default 10,000).
    pub keep_per_deployment: u64,
    /// How far (in events) a live SSE subscriber may fall behind before it is
    /// disconnected to resume with `Last-Event-ID` (default 10,000).
    pub max_subscriber_lag: u64,
    /// How often the retention task runs (default 600 s).
    pub prune_interval_secs: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            retention_hours: 168,
            keep_per_deployment: 10_000,
            max_subscriber_lag: crate::hub::DEFAULT_MAX_LAG,
            prune_interval_secs: 600,
        }
    }
}

/// Events deleted per write, so pruning never holds the writer for long.
const CHUNK: u64 = 5_000;

/// One retention pass over every deployment; returns how many events were removed.
///
/// For each deployment it removes the oldest events that are all of: older than
/// `retention_hours`, outside the newest `keep_per_deployment`, and at or before the
/// position of every connected subscriber (subscribers being cut off for lag excepted).
pub async fn prune(db: &Db, hub: &EventHub, cfg: &EventsConfig) -> Result<u64, StoreError> {
    let keep = cfg.keep_per_deployment.max(1);
    let hours = i64::try_from(cfg.retention_hours).unwrap_or(i64::MAX / 3_600_000);
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(hours.min(1_000_000));
    let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let spans = db.read(log::spans).await?;
    let mut removed = 0;
    for (dep, oldest, latest) in spans {
        // Delete `seq < bound`: a prefix of the log, never a hole in it.
        let mut bound = latest.saturating_sub(keep) + 1;
        if bound <= oldest {
            continue;
        }
        let (d, c) = (dep.clone(), cutoff.clone());
        if let Some(young) = db.read(move |conn| log::first_since(conn, &d, &c)).await? {
            bound = bound.min(young);
        }
        if let Some(p) = hub.oldest_subscriber(&dep) {
            bound = bound.min(p + 1);
        }
        let mut from = oldest;
        while from < bound {
            let to = bound.min(from + CHUNK);
            let d = dep.clone();
            removed += db.write(move |conn| log::delete_range(conn, &d, from, to)).await?;
            from = to;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "event retention pruned old events");
    }
    Ok(removed)
}

/// Runs [`prune`] every `prune_interval_secs` until `stop` is cancelled (spawn it
/// where the host tracks its tasks).
pub async fn run(db: Db, hub: EventHub, cfg: EventsConfig, stop: CancellationToken) {
    let every = Duration::from_secs(cfg.prune_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = prune(&db, &hub, &cfg).await {
            if matches!(e, StoreError::Closed) {
                return;
            }
            tracing::warn!(error = %e, "event retention failed; retrying next interval");
        }
    }
}
