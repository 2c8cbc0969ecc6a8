//! The vocabulary every floor of the host shares: the deployment spec, object ids,
//! the event envelope, paging and text bounds. No I/O, no domain logic.
#![deny(missing_docs)]

pub mod event;
pub mod ids;
pub mod net;
pub mod paging;
pub mod spec;
pub mod status;
pub mod strict;
pub mod sync;
pub mod text;
