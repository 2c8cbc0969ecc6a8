//! [`Core`]: the handle every domain operation hangs off. It holds the lower floors'
//! handles and a way to start a queued run, and nothing of the run manager itself,
//! so the domain modules that queue runs (approvals, automations, steering) do not
//! depend on the module that executes them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::services::Services;

/// Starts executing a run the store has (re-)queued; implemented by the run manager.
pub(crate) trait RunStarter: Send + Sync {
    /// Spawns the run's executor.
    fn start(&self, run_id: String);
}

/// The domain API: deployments, threads, skills, memories, automations, approvals,
/// files, secrets and webhooks of every account. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub(crate) services: Arc<Services>,
    pub(crate) starter: Arc<dyn RunStarter>,
}

impl Core {
    pub(crate) fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Starts a run this operation queued (or re-queued).
    pub(crate) fn start_run(&self, run_id: String) {
        self.starter.start(run_id);
    }

    /// Host directory of a deployment's workspace (`/workspace` inside the sandbox).
    pub fn workspace_dir(&self, deployment_id: &str) -> PathBuf {
        crate::workspace::path(&self.services.data_dir, deployment_id)
    }
}
