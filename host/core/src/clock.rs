//! The scheduler's notion of "now", injectable so tests move time instead of
//! sleeping through it.

use hermes_types::sync::Locked;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Where the scheduler reads the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock: production.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (library-level tests, benchmarks).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> ManualClock {
        ManualClock { now: Mutex::new(now) }
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.locked() = now;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.locked();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.locked()
    }
}

/// Testing only: "now" is the RFC 3339 time written in a file, so black-box tests
/// drive the real binary's scheduler. Enabled by `[automations] clock_file` together
/// with `HERMES_ALLOW_TEST_CLOCK=1` (either alone refuses to start). A plain thread
/// re-reads the file every few milliseconds, so no async thread touches the disk.
#[derive(Debug)]
pub struct FileClock {
    /// Unix milliseconds last read from the file.
    now_ms: Arc<AtomicI64>,
}

/// How often the file is re-read.
const FILE_POLL: std::time::Duration = std::time::Duration::from_millis(10);

impl FileClock {
    /// A clock reading `path` (blocks once for the first read: call it off the
    /// async threads).
    pub fn new(path: PathBuf) -> FileClock {
        let now_ms = Arc::new(AtomicI64::new(read(&path)));
        let weak = Arc::downgrade(&now_ms);
        let spawned = std::thread::Builder::new().name("hermes-test-clock".into()).spawn(move || {
            // Ends with the clock.
            while let Some(now) = weak.upgrade() {
                now.store(read(&path), Ordering::Relaxed);
                drop(now);
                std::thread::sleep(FILE_POLL);
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the test clock's reader; time stays where it was");
        }
        FileClock { now_ms }
    }
}

/// The file's time; an unreadable or malformed file stops time at the epoch, so
/// nothing fires by accident.
fn read(path: &std::path::Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms.load(Ordering::Relaxed)).unwrap_or(DateTime::UNIX_EPOCH)
    }
}
