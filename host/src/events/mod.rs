//! The event stream: append to the durable log, then broadcast; subscribe with exact resume.

mod hub;
pub(crate) mod retention;

pub use hub::{CommitHook, DEFAULT_MAX_LAG, EventHub, Subscription};
pub use retention::EventsConfig;

pub use hermes_types::event::{Event, NewEvent};
