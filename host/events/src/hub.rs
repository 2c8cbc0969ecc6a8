//! Append-then-broadcast, and subscriptions that replay the log before going live.

use hermes_types::sync::{Locked, RwLocked};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::broadcast;

use crate::{Event, NewEvent};
use hermes_store::{Db, StoreError, Tx, events as log};

/// Live events buffered per deployment before a slow subscriber falls back to the log.
const LIVE_BUFFER: usize = 1024;
/// Events read from the log per catch-up query.
const PAGE: u32 = 500;

/// Default of [`EventHub::with_max_lag`].
pub const DEFAULT_MAX_LAG: u64 = 10_000;

/// Work that rides every event commit, registered by the subsystem that owns it (the
/// webhook outbox is one): the hub itself knows nothing of what hooks do.
pub trait CommitHook: Send + Sync + 'static {
    /// Runs inside the transaction that appends `events`; an error rolls the whole
    /// change back, so the hook's rows and the events commit together or not at all.
    fn in_transaction(&self, tx: &Tx<'_>, events: &[Event]) -> Result<(), StoreError>;
    /// Runs on the writer thread right after the commit, before the broadcast.
    fn committed(&self, events: &[Event]);
}

/// Why a [`Subscription`] yields no more events.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// The events after its position are gone (pruned by retention), or it fell too
    /// far behind the live stream: resume after [`Subscription::last_sequence`].
    #[error("{0}")]
    Expired(String),
    /// The hub is shutting down.
    #[error("the event hub is closed")]
    Closed,
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The registered hooks, as one commit sees them.
type Hooks = Arc<Vec<Arc<dyn CommitHook>>>;

/// Persists events and fans them out to subscribers.
#[derive(Clone)]
pub struct EventHub {
    db: Db,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    max_lag: u64,
    /// Registered at start-up, read on every commit: each commit takes a snapshot
    /// (one `Arc` clone), never a copy of the list.
    hooks: Arc<RwLock<Hooks>>,
}

/// The live side of one deployment's stream: exists while someone listens.
struct Channel {
    tx: broadcast::Sender<Arc<Event>>,
    /// Sequence of the newest event broadcast.
    head: Arc<AtomicU64>,
    /// Where each connected subscriber stands (retention never prunes past them).
    cursors: Vec<Weak<Cursor>>,
}

/// A subscriber's position, shared with the hub.
struct Cursor {
    /// Sequence of the last event the subscriber took.
    position: AtomicU64,
    /// How far behind the head it may fall before it is cut off; `u64::MAX` until
    /// its first read learns the head.
    allowance: AtomicU64,
    /// Set when it fell too far behind: its next read ends the stream.
    cut: AtomicBool,
}

impl Cursor {
    fn too_far_behind(&self, head: u64) -> bool {
        self.cut.load(Ordering::Relaxed)
            || head.saturating_sub(self.position.load(Ordering::Relaxed)) > self.allowance.load(Ordering::Relaxed)
    }
}

impl EventHub {
    /// A hub over the given store.
    pub fn new(db: Db) -> EventHub {
        EventHub { db, channels: Arc::new(Mutex::new(HashMap::new())), max_lag: DEFAULT_MAX_LAG, hooks: Arc::default() }
    }

    /// Adds work to every later event commit (see [`CommitHook`]).
    pub fn register(&self, hook: Arc<dyn CommitHook>) {
        let mut hooks = self.hooks.write_locked();
        let mut next = Vec::clone(&hooks);
        next.push(hook);
        *hooks = Arc::new(next);
    }

    /// How many events a live subscriber may fall behind the head before its stream
    /// ends (it resumes with `Last-Event-ID`); default [`DEFAULT_MAX_LAG`].
    pub fn with_max_lag(mut self, max_lag: u64) -> EventHub {
        self.max_lag = max_lag.max(1);
        self
    }

    /// The oldest position (last sequence taken) among the deployment's connected
    /// subscribers that are not being cut off; `None` when nobody listens.
    pub fn oldest_subscriber(&self, deployment_id: &str) -> Option<u64> {
        let mut map = self.channels.locked();
        let ch = map.get_mut(deployment_id)?;
        let head = ch.head.load(Ordering::Relaxed);
        ch.cursors.retain(|c| c.strong_count() > 0);
        let mut oldest = None;
        for c in ch.cursors.iter().filter_map(Weak::upgrade) {
            if c.too_far_behind(head) {
                // Too slow to keep: it is disconnected at its next read.
                c.cut.store(true, Ordering::Relaxed);
                continue;
            }
            let p = c.position.load(Ordering::Relaxed);
            oldest = Some(oldest.map_or(p, |o: u64| o.min(p)));
        }
        oldest
    }

    /// Appends an event durably, then broadcasts it (in commit order).
    pub async fn append(&self, event: NewEvent) -> Result<Event, StoreError> {
        let dep = event.deployment_id.clone();
        let (_, mut events) = self.commit(&dep, move |_| Ok(((), vec![event]))).await?;
        events.pop().ok_or_else(|| StoreError::Corrupt("event not appended".into()))
    }

    /// Appends several events of one deployment in one commit, in order.
    pub async fn append_all(&self, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
        let Some(first) = events.first() else { return Ok(Vec::new()) };
        let dep = first.deployment_id.clone();
        Ok(self.commit(&dep, move |_| Ok(((), events))).await?.1)
    }

    /// Runs a state change and the events announcing it in one transaction; the
    /// events are broadcast only after the commit. All events must belong to
    /// `deployment_id`.
    pub async fn commit<T, F>(&self, deployment_id: &str, change: F) -> Result<(T, Vec<Event>), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<(T, Vec<NewEvent>), StoreError> + Send + 'static,
    {
        let channels = self.channels.clone();
        let hooks = self.hooks.read_locked().clone();
        let after = hooks.clone();
        let dep = deployment_id.to_string();
        self.db
            .write_then(
                move |conn| {
                    let (value, events) = change(conn)?;
                    // One commit, one timestamp: the hub is where events get their time.
                    let now = hermes_types::ids::now();
                    let events =
                        events.into_iter().map(|e| log::append(conn, e, &now)).collect::<Result<Vec<_>, _>>()?;
                    // Hooks' rows (webhook deliveries) commit with their events: none
                    // lost, none for an event that was rolled back.
                    for hook in hooks.iter() {
                        hook.in_transaction(conn, &events)?;
                    }
                    Ok((value, events))
                },
                move |(_, events): &(T, Vec<Event>)| {
                    for hook in after.iter() {
                        hook.committed(events);
                    }
                    // A deployment nobody listens to has no channel: idle deployments
                    // cost no memory here. The last subscriber gone, the channel goes.
                    let mut map = channels.locked();
                    let Some(ch) = map.get(&dep) else { return };
                    if ch.tx.receiver_count() == 0 {
                        map.remove(&dep);
                        return;
                    }
                    if let Some(last) = events.last() {
                        ch.head.fetch_max(last.sequence, Ordering::Relaxed);
                    }
                    for e in events {
                        let _ = ch.tx.send(Arc::new(e.clone()));
                    }
                },
            )
            .await
    }

    /// Events of a deployment after `after`, from the log.
    pub async fn history(&self, deployment_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let dep = deployment_id.to_string();
        self.db.read(move |conn| log::after(conn, &dep, after, limit)).await
    }

    /// Subscribes to a deployment's events with sequence > `after` (0 = from the start).
    pub fn subscribe(&self, deployment_id: &str, after: u64) -> Subscription {
        let cursor = Arc::new(Cursor {
            position: AtomicU64::new(after),
            allowance: AtomicU64::new(u64::MAX),
            cut: AtomicBool::new(false),
        });
        let mut map = self.channels.locked();
        let ch = map.entry(deployment_id.to_string()).or_insert_with(|| Channel {
            tx: broadcast::channel(LIVE_BUFFER).0,
            head: Arc::new(AtomicU64::new(0)),
            cursors: Vec::new(),
        });
        ch.cursors.retain(|c| c.strong_count() > 0);
        ch.cursors.push(Arc::downgrade(&cursor));
        Subscription {
            hub: self.clone(),
            deployment_id: deployment_id.to_string(),
            live: ch.tx.subscribe(),
            head: ch.head.clone(),
            cursor,
            last: after,
            backlog: std::collections::VecDeque::new(),
            caught_up: false,
        }
    }

    /// Forgets the broadcast channel of a deleted deployment.
    pub fn forget(&self, deployment_id: &str) {
        self.channels.locked().remove(deployment_id);
    }
}

/// A resumable event stream: every event after the starting point exactly once, in order.
pub struct Subscription {
    hub: EventHub,
    deployment_id: String,
    live: broadcast::Receiver<Arc<Event>>,
    head: Arc<AtomicU64>,
    cursor: Arc<Cursor>,
    last: u64,
    backlog: std::collections::VecDeque<Event>,
    caught_up: bool,
}

impl Subscription {
    /// The sequence of the last event returned.
    pub fn last_sequence(&self) -> u64 {
        self.last
    }

    fn took(&mut self, sequence: u64) {
        self.last = sequence;
        self.cursor.position.store(sequence, Ordering::Relaxed);
    }

    /// The next event; waits for one if none is pending.
    ///
    /// Fails with [`SubscriptionError::Expired`] when the events after the starting
    /// point were pruned by retention, or when the subscriber fell further behind the
    /// live head than allowed (the larger of the hub's `max_lag` and how far behind it
    /// started): it can resume from [`Subscription::last_sequence`].
    pub async fn next(&mut self) -> Result<Event, SubscriptionError> {
        if self.cursor.allowance.load(Ordering::Relaxed) == u64::MAX {
            let dep = self.deployment_id.clone();
            let latest = self.hub.db.read(move |conn| log::latest(conn, &dep)).await?;
            self.head.fetch_max(latest, Ordering::Relaxed);
            let allowance = self.hub.max_lag.max(latest.saturating_sub(self.last));
            self.cursor.allowance.store(allowance, Ordering::Relaxed);
        }
        loop {
            if self.cursor.too_far_behind(self.head.load(Ordering::Relaxed)) {
                self.cursor.cut.store(true, Ordering::Relaxed);
                return Err(SubscriptionError::Expired(format!(
                    "the subscriber fell more than {} events behind the live stream; resume after evt_{}",
                    self.cursor.allowance.load(Ordering::Relaxed),
                    self.last
                )));
            }
            if let Some(e) = self.backlog.pop_front() {
                self.took(e.sequence);
                return Ok(e);
            }
            if !self.caught_up {
                // Subscribed to live first, so nothing committed after this read is missed.
                let page = self.hub.history(&self.deployment_id, self.last, PAGE).await?;
                if self.last > 0
                    && let Some(first) = page.first()
                    && first.sequence != self.last + 1
                {
                    return Err(SubscriptionError::Expired(format!(
                        "events after evt_{} were removed by retention; the oldest kept is evt_{}",
                        self.last, first.sequence
                    )));
                }
                if (page.len() as u32) < PAGE {
                    self.caught_up = true;
                }
                self.backlog.extend(page);
                continue;
            }
            match self.live.recv().await {
                Ok(e) if e.sequence <= self.last => continue,
                Ok(e) if e.sequence == self.last + 1 => {
                    self.took(e.sequence);
                    return Ok((*e).clone());
                }
                // A gap (or lag): fill it from the log.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.caught_up = false,
                Err(broadcast::error::RecvError::Closed) => return Err(SubscriptionError::Closed),
            }
        }
    }
}
