//! Which run a host-side handler works for: the ids, the deployment's configuration
//! as of the run, its secret values (for scrubbing) and its cancellation.

use std::path::PathBuf;
use std::sync::Arc;

use hermes_secrets::Scrubber;
use hermes_types::spec::DeploymentSpec;
use tokio_util::sync::CancellationToken;

/// One run (or dream) as the domain layer sees it.
#[derive(Clone)]
pub(crate) struct RunScope {
    /// `dep_…`
    pub deployment_id: String,
    /// The account charged for the run.
    pub account_id: String,
    /// The vendor's customer id.
    pub customer_id: String,
    /// `thr_…` (empty for a dream, which belongs to no thread).
    pub thread_id: String,
    /// `run_…` (or the dream's id).
    pub run_id: String,
    /// The deployment's configuration as of this run.
    pub spec: Arc<DeploymentSpec>,
    /// The deployment's secret values, scrubbed from everything produced.
    pub secrets: Arc<Scrubber>,
    /// Host directory preopened as `/workspace`.
    pub workspace: PathBuf,
    /// Cancelled when a client cancels the run.
    pub cancel: CancellationToken,
    /// Cancelled when the host shuts down.
    pub shutdown: CancellationToken,
}
