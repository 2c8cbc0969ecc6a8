//! The event stream: append to the durable log, then broadcast in commit order;
//! subscribe with exact resume; prune old events without ever opening a gap.
#![deny(missing_docs)]

mod hub;
pub mod retention;

pub use hub::{CommitHook, DEFAULT_MAX_LAG, EventHub, Subscription, SubscriptionError};
pub use retention::EventsConfig;

pub use hermes_types::event::{Event, NewEvent};
