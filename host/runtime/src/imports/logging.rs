//! `logging`: guest log lines into the host's `tracing`, tagged with the run.

use crate::RunState;
use crate::wit::hermes::agent::logging::{Host, Level};

/// Longest guest log line kept.
const MAX_LINE: usize = 4096;

/// A guest log line as logged: cut to [`MAX_LINE`] (saying how much was dropped)
/// before it is scrubbed, so a huge line costs no more than a short one.
pub(crate) fn bounded_line(secrets: &hermes_secrets::Scrubber, message: &str) -> String {
    let kept = secrets.scrub_prefix(message, MAX_LINE);
    if kept.len() < message.len() && message.len() > MAX_LINE {
        format!("{kept}… [{} more bytes]", message.len() - kept.len())
    } else {
        kept
    }
}

impl Host for RunState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = bounded_line(&self.env.secrets, &message);
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
