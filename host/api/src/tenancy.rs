//! Per-tenant bounds the API enforces: a request rate per API key (a GCRA token
//! bucket from `governor`, keyed by key id, so only authenticated keys take memory)
//! and a count of open event streams per account.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hermes_core::TenantLimits;
use hermes_types::sync::Locked;

use super::ApiError;

/// Keys tracked before idle ones are forgotten (their buckets are full again anyway).
const TRACKED_KEYS: usize = 10_000;

/// The API's tenant bounds.
pub struct Tenancy {
    rate: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    max_streams: u32,
    streams: Arc<Mutex<HashMap<String, u32>>>,
}

/// One open event stream, counted against its account until dropped.
pub struct StreamSlot {
    account: String,
    streams: Arc<Mutex<HashMap<String, u32>>>,
    /// Counts the stream in `hermes_sse_subscribers` while it is open.
    _gauge: hermes_metrics::StreamGuard,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.streams.locked();
        if let Some(n) = streams.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                streams.remove(&self.account);
            }
        }
    }
}

impl Tenancy {
    /// Bounds as configured (`[tenants]`; 0 turns one off).
    pub fn new(limits: &TenantLimits) -> Tenancy {
        let rate = NonZeroU32::new(limits.requests_per_second).map(|rps| {
            let burst = NonZeroU32::new(limits.request_burst).unwrap_or(rps);
            RateLimiter::keyed(Quota::per_second(rps).allow_burst(burst))
        });
        Tenancy { rate, clock: DefaultClock::default(), max_streams: limits.max_event_streams, streams: Arc::default() }
    }

    /// Counts one request of `key_id`; 429 `rate_limited` with `Retry-After` past its rate.
    pub fn admit(&self, key_id: &str) -> Result<(), ApiError> {
        let Some(rate) = &self.rate else { return Ok(()) };
        if rate.len() > TRACKED_KEYS {
            rate.retain_recent();
        }
        rate.check_key(&key_id.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::rate_limited(
                format!("this API key is over its rate limit; retry in {} ms", wait.as_millis().max(1)),
                secs.max(1),
            )
        })
    }

    /// Takes an event-stream slot of `account`; 429 when all are in use.
    pub fn open_stream(&self, account: &str) -> Result<StreamSlot, ApiError> {
        let mut streams = self.streams.locked();
        let open = streams.entry(account.to_string()).or_insert(0);
        if self.max_streams > 0 && *open >= self.max_streams {
            return Err(ApiError::rate_limited(
                format!("this account already has {} event streams open; close one first", self.max_streams),
                5,
            ));
        }
        *open += 1;
        Ok(StreamSlot {
            account: account.to_string(),
            streams: self.streams.clone(),
            _gauge: hermes_metrics::StreamGuard::open(),
        })
    }
}
