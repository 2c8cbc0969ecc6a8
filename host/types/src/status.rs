//! Statuses the whole host speaks: how a run and a deployment stand.

use serde::Serialize;

/// Where a run stands (the `run_status` event's values, plus `queued`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Accepted, waiting for a worker.
    Queued,
    /// A guest instance is executing it.
    Running,
    /// Paused until a human decides; holds no instance.
    WaitingOnHuman,
    /// Paused until the subagents it started have ended; holds no instance.
    WaitingOnSubagents,
    /// Finished with an answer.
    Completed,
    /// Failed; `error` says why.
    Error,
    /// Cancelled by a client.
    Cancelled,
}

impl RunStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::WaitingOnHuman => "waiting_on_human",
            RunStatus::WaitingOnSubagents => "waiting_on_subagents",
            RunStatus::Completed => "completed",
            RunStatus::Error => "error",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "waiting_on_human" => RunStatus::WaitingOnHuman,
            "waiting_on_subagents" => RunStatus::WaitingOnSubagents,
            "completed" => RunStatus::Completed,
            "error" => RunStatus::Error,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }

    /// True while the run is parked (waiting on a human or on subagents) holding no
    /// instance: nothing executes it until a decision or its children re-queue it.
    pub fn is_parked(self) -> bool {
        matches!(self, RunStatus::WaitingOnHuman | RunStatus::WaitingOnSubagents)
    }

    /// True once the run can never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Error | RunStatus::Cancelled)
    }
}

/// Lifecycle of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Being set up (skills fetched, workspace prepared).
    Provisioning,
    /// Accepting messages.
    Ready,
    /// Setup failed; `error` says why.
    Error,
}

impl DeploymentStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Provisioning => "provisioning",
            DeploymentStatus::Ready => "ready",
            DeploymentStatus::Error => "error",
        }
    }

    /// Parses the stored (and API) spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "provisioning" => DeploymentStatus::Provisioning,
            "ready" => DeploymentStatus::Ready,
            "error" => DeploymentStatus::Error,
            _ => return None,
        })
    }
}
