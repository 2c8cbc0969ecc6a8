//! Append-then-broadcast, and subscriptions that replay the log before going live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::{Event, NewEvent};
use crate::store::{Db, StoreError, events as log};

/// Live events buffered per deployment before a slow subscriber falls back to the log.
const LIVE_BUFFER: usize = 1024;
/// Events read from the log per catch-up query.
const PAGE: u32 = 500;

/// Persists events and fans them out to subscribers.
#[derive(Clone)]
pub struct EventHub {
    db: Db,
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>>,
}

impl EventHub {
    /// A hub over the given store.
    pub fn new(db: Db) -> EventHub {
        EventHub { db, channels: Arc::new(Mutex::new(HashMap::new())) }
    }

    fn sender(&self, deployment_id: &str) -> broadcast::Sender<Arc<Event>> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(deployment_id.to_string()).or_insert_with(|| broadcast::channel(LIVE_BUFFER).0).clone()
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
        F: FnOnce(&rusqlite::Connection) -> Result<(T, Vec<NewEvent>), StoreError> + Send + 'static,
    {
        let channels = self.channels.clone();
        let dep = deployment_id.to_string();
        self.db
            .write_then(
                move |conn| {
                    let (value, events) = change(conn)?;
                    let events = events.into_iter().map(|e| log::append(conn, e)).collect::<Result<Vec<_>, _>>()?;
                    Ok((value, events))
                },
                move |(_, events): &(T, Vec<Event>)| {
                    // A deployment nobody listens to has no channel: idle deployments
                    // cost no memory here. The last subscriber gone, the channel goes.
                    let mut map = channels.lock().unwrap_or_else(|p| p.into_inner());
                    let Some(tx) = map.get(&dep) else { return };
                    if tx.receiver_count() == 0 {
                        map.remove(&dep);
                        return;
                    }
                    for e in events {
                        let _ = tx.send(Arc::new(e.clone()));
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
        Subscription {
            hub: self.clone(),
            deployment_id: deployment_id.to_string(),
            live: self.sender(deployment_id).subscribe(),
            last: after,
            backlog: std::collections::VecDeque::new(),
            caught_up: false,
        }
    }

    /// Forgets the broadcast channel of a deleted deployment.
    pub fn forget(&self, deployment_id: &str) {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).remove(deployment_id);
    }
}

/// A resumable event stream: every event after the starting point exactly once, in order.
pub struct Subscription {
    hub: EventHub,
    deployment_id: String,
    live: broadcast::Receiver<Arc<Event>>,
    last: u64,
    backlog: std::collections::VecDeque<Event>,
    caught_up: bool,
}

impl Subscription {
    /// The sequence of the last event returned.
    pub fn last_sequence(&self) -> u64 {
        self.last
    }

    /// The next event; waits for one if none is pending.
    pub async fn next(&mut self) -> Result<Event, StoreError> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                self.last = e.sequence;
                return Ok(e);
            }
            if !self.caught_up {
                // Subscribed to live first, so nothing committed after this read is missed.
                let page = self.hub.history(&self.deployment_id, self.last, PAGE).await?;
                if (page.len() as u32) < PAGE {
                    self.caught_up = true;
                }
                self.backlog.extend(page);
                continue;
            }
            match self.live.recv().await {
                Ok(e) if e.sequence <= self.last => continue,
                Ok(e) if e.sequence == self.last + 1 => {
                    self.last = e.sequence;
                    return Ok((*e).clone());
                }
                // A gap (or lag): fill it from the log.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.caught_up = false,
                Err(broadcast::error::RecvError::Closed) => return Err(StoreError::Closed),
            }
        }
    }
}
