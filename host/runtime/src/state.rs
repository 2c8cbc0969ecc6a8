//! The data of one run's store: WASI context, limits, and the run's environment.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::limits::TrackedLimits;
use crate::ports::Ports;
use crate::{CappedOutput, RuntimeError};
use hermes_secrets::Scrubber;
use hermes_types::spec::DeploymentSpec;

/// One run (or dream): the ids, the deployment's configuration as of the run, its
/// secret values (for scrubbing) and its cancellation. The domain's ports hold it too.
pub struct RunScope {
    /// `dep_…`
    pub deployment_id: String,
    /// The account charged for the run's model calls.
    pub account_id: String,
    /// The vendor's customer id.
    pub customer_id: String,
    /// `thr_…` (empty for a dream, which belongs to no thread).
    pub thread_id: String,
    /// `run_…` (or the dream's id).
    pub run_id: String,
    /// The deployment's configuration as of this run.
    pub spec: Arc<DeploymentSpec>,
    /// A subagent's allowlist: the only tools this run may use (`None`: all of the
    /// deployment's that are not disabled).
    pub tools: Option<Arc<[String]>>,
    /// The deployment's secret values, host-side only: scrubbed from everything the
    /// guest or the model produces before it is persisted or logged.
    pub secrets: Arc<Scrubber>,
    /// Host directory preopened as `/workspace`.
    pub workspace: PathBuf,
    /// Cancelled when a client cancels the run.
    pub cancel: CancellationToken,
    /// Cancelled when the host shuts down: the run stops and resumes on the next start.
    pub shutdown: CancellationToken,
}

impl RunScope {
    /// Whether this run may offer and call `tool`: not disabled by the deployment,
    /// and on the run's allowlist when it has one.
    pub fn tool_allowed(&self, tool: &str) -> bool {
        !self.spec.disabled_tools.iter().any(|d| d == tool)
            && self.tools.as_ref().is_none_or(|a| a.iter().any(|t| t == tool))
    }
}

/// Who and what a run is, and its ports: the context every host import works in. It
/// holds nothing else of the host.
pub struct RunEnv {
    /// The run.
    pub scope: Arc<RunScope>,
    /// The host-side implementations of the imported interfaces, for this run.
    pub ports: Ports,
}

impl std::ops::Deref for RunEnv {
    type Target = RunScope;

    /// The run's scope (`env.run_id`, `env.spec`, …).
    fn deref(&self) -> &RunScope {
        &self.scope
    }
}

/// Store data of one run's instance.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: TrackedLimits,
    pub(crate) env: Arc<RunEnv>,
    pub(crate) output: CappedOutput,
    /// Transcript bytes this instance has appended (bounded per instance).
    pub(crate) appended_bytes: usize,
    /// The tool call the guest last announced (`tool-started`): call id and tool
    /// name, so its `tool_result` event can say which tool (and MCP server) answered.
    pub(crate) started_call: Option<(String, String)>,
    /// The workspace's quota, charged by the guest's writes.
    quota: Arc<crate::WorkspaceQuota>,
}

impl RunState {
    /// A WASI context granting only the workspace: no env, no args, no sockets,
    /// stdout/stderr captured with a cap.
    pub fn new(
        env: Arc<RunEnv>,
        max_output_bytes: usize,
        quota: Arc<crate::WorkspaceQuota>,
    ) -> Result<RunState, RuntimeError> {
        let output = CappedOutput::new(max_output_bytes);
        let mut b = WasiCtxBuilder::new();
        b.stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // A guest needs a few bytes of entropy (hash seeds, ids), not a firehose.
            .max_random_size(64 << 10)
            .initial_cwd("/workspace");
        b.preopened_dir(&env.workspace, "/workspace", FsPerms::ReadWrite)
            .map_err(|e| RuntimeError::Link(format!("preopening the workspace: {e:#}")))?;
        Ok(RunState {
            wasi: b.build(),
            table: ResourceTable::new(),
            limits: TrackedLimits::default(),
            env,
            output,
            appended_bytes: 0,
            started_call: None,
            quota,
        })
    }

    /// The run's environment.
    pub fn env(&self) -> &Arc<RunEnv> {
        &self.env
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl crate::quota::HasQuota for RunState {
    fn quota(&self) -> Option<Arc<crate::WorkspaceQuota>> {
        Some(self.quota.clone())
    }
}
