//! `logging`: guest log lines into the host's `tracing`, tagged with the run.

use super::preview;
use crate::RunState;
use crate::wit::hermes::agent::logging::{Host, Level};

/// Longest guest log line kept.
const MAX_LINE: usize = 4096;

impl Host for RunState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = preview(&self.env.secrets.scrub(&message), MAX_LINE);
        let (dep, run) = (&self.env.deployment_id, &self.env.run_id);
        match level {
            Level::Trace => tracing::trace!(deployment_id = %dep, run_id = %run, guest = true, "{message}"),
            Level::Debug => tracing::debug!(deployment_id = %dep, run_id = %run, guest = true, "{message}"),
            Level::Info => tracing::info!(deployment_id = %dep, run_id = %run, guest = true, "{message}"),
            Level::Warn => tracing::warn!(deployment_id = %dep, run_id = %run, guest = true, "{message}"),
            Level::Error => tracing::error!(deployment_id = %dep, run_id = %run, guest = true, "{message}"),
        }
        Ok(())
    }
}
