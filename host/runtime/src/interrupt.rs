//! Why and when the host stops a guest: cancellation, shutdown and deadlines, checked
//! at every epoch tick of runs, plugin calls and commands alike.

use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

/// Why a guest was stopped by the host (the trap's source error).
#[derive(Debug, thiserror::Error)]
pub enum Interrupt {
    /// The run was cancelled.
    #[error("the run was cancelled")]
    Cancelled,
    /// The host is shutting down; the run resumes on the next start.
    #[error("the host is shutting down")]
    Shutdown,
    /// The instance outlived its deadline.
    #[error("the run exceeded its deadline of {0:?}")]
    Deadline(Duration),
}

/// Arms the epoch callback of `store`: at each tick the instance traps with
/// `wrap(why)` once the host shuts down, the call is cancelled or `budget` has passed,
/// and otherwise yields to the executor.
pub(crate) fn arm<T: 'static>(
    store: &mut Store<T>,
    budget: Duration,
    cancel: tokio_util::sync::CancellationToken,
    shutdown: tokio_util::sync::CancellationToken,
    wrap: fn(Interrupt) -> wasmtime::Error,
) {
    let until = Instant::now() + budget;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if shutdown.is_cancelled() {
            return Err(wrap(Interrupt::Shutdown));
        }
        if cancel.is_cancelled() {
            return Err(wrap(Interrupt::Cancelled));
        }
        if Instant::now() >= until {
            return Err(wrap(Interrupt::Deadline(budget)));
        }
        Ok(UpdateDeadline::Yield(1))
    });
}

/// Why the host stopped a tool's instance (a plugin call, a command), as the model
/// reads it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stopped {
    /// The run was cancelled.
    #[error("the run was cancelled")]
    Cancelled,
    /// The host is shutting down.
    #[error("the host is shutting down")]
    Shutdown,
    /// It outlived its deadline.
    #[error("it ran longer than its limit of {0:?}")]
    Deadline(Duration),
}

impl From<Interrupt> for Stopped {
    fn from(i: Interrupt) -> Stopped {
        match i {
            Interrupt::Cancelled => Stopped::Cancelled,
            Interrupt::Shutdown => Stopped::Shutdown,
            Interrupt::Deadline(d) => Stopped::Deadline(d),
        }
    }
}
