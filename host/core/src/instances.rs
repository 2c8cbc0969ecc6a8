//! Starting an instance of a deployment's harness, for a run or a dream: the one
//! path both take. It resolves the harness and the secrets, assembles the run's
//! ports, and hands the launch to the runtime's launcher.

use std::sync::Arc;

use hermes_runtime::wit::HarnessPre;
use hermes_runtime::wit::exports::hermes::agent::agent::{Features, RunContext};
use hermes_runtime::{Entry, InstanceOutcome, Launch, RunEnv, RunState};
use hermes_types::spec::DeploymentSpec;
use tokio_util::sync::CancellationToken;

use crate::handle::RunStarter;
use crate::plugins::Attached;
use crate::run_scope::RunScope;
use crate::services::Services;
use crate::workspace;

/// Which export the instance runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A run of a thread (`resumed` when it was started before).
    Run { resumed: bool },
    /// A dream of an idle deployment.
    Dream,
}

/// One instance to start.
pub(crate) struct Instance<'a> {
    /// `dep_…`
    pub deployment_id: &'a str,
    /// The account charged.
    pub account_id: &'a str,
    /// The deployment's configuration as of now.
    pub spec: &'a DeploymentSpec,
    /// The run's thread (empty for a dream).
    pub thread_id: &'a str,
    /// The run's (or dream's) id.
    pub run_id: &'a str,
    /// Run or dream.
    pub purpose: Purpose,
    /// Cancels this instance.
    pub cancel: CancellationToken,
    /// What only a run has (a dream has none).
    pub run: Option<RunOf>,
}

/// A run's own part of its instance: how it starts children, and its bounds when it
/// is a child itself.
pub(crate) struct RunOf {
    /// Starts the children it delegates to.
    pub starter: Arc<dyn RunStarter>,
    /// Its ancestors (0 for a run a message started).
    pub depth: u32,
    /// A subagent's only tools.
    pub tools: Option<Vec<String>>,
    /// A subagent's bound on model turns.
    pub max_turns: Option<u32>,
    /// Whether a parent delegated it.
    pub subagent: bool,
}

/// Starts the instance and waits for it to end. The caller holds an instance slot.
pub(crate) async fn launch(
    services: &Arc<Services>,
    i: Instance<'_>,
    on_instantiated: Option<Box<dyn FnOnce(u64) + Send>>,
) -> InstanceOutcome {
    let harness = match harness(services, i.account_id, &i.spec.runtime).await {
        Ok(h) => h,
        Err(e) => return InstanceOutcome::Failed(e),
    };
    let plugins: Arc<[Attached]> =
        match crate::plugins::attached(services, i.account_id, i.deployment_id, i.spec, true).await {
            Ok(p) => p.into(),
            Err(e) => return InstanceOutcome::Failed(format!("the deployment's plugins are unavailable: {e}")),
        };
    let secrets = match crate::secrets::resolve(services, i.account_id, &i.spec.secrets).await {
        Ok(s) => Arc::new(s),
        Err(e) => return InstanceOutcome::Failed(format!("the deployment's secrets are unavailable: {e}")),
    };
    let spec = Arc::new(i.spec.clone());
    let run = i.run;
    let allowlist: Option<Arc<[String]>> = run.as_ref().and_then(|r| r.tools.clone()).map(Into::into);
    let scope = Arc::new(RunScope {
        deployment_id: i.deployment_id.to_string(),
        account_id: i.account_id.to_string(),
        customer_id: spec.customer_id.clone(),
        thread_id: i.thread_id.to_string(),
        run_id: i.run_id.to_string(),
        spec: spec.clone(),
        tools: allowlist.clone(),
        secrets,
        workspace: workspace::path(&services.data_dir, i.deployment_id),
        cancel: i.cancel,
        shutdown: services.shutdown.clone(),
    });
    let starter = run.as_ref().map(|r| r.starter.clone());
    let env =
        Arc::new(RunEnv { ports: crate::ports::for_run(services, &scope, plugins, starter), scope: scope.clone() });
    let f = &spec.features;
    let limits = &services.config.subagents;
    let mut disabled_tools = spec.disabled_tools.clone();
    // A run at the depth bound (or on a host without subagents) is not offered them.
    if !limits.enabled || run.as_ref().is_none_or(|r| r.depth >= limits.max_depth) {
        disabled_tools.push(crate::subagents::TOOL.to_string());
    }
    // A subagent's allowlist hides every other built-in from the harness too (the host
    // drops the rest from requests and refuses their calls).
    if let Some(allowed) = &allowlist {
        let builtins = services.harness_tools.get(&spec.runtime).map(Vec::as_slice).unwrap_or_default();
        disabled_tools.extend(builtins.iter().filter(|t| !allowed.contains(t)).cloned());
    }
    let mut system_prompt = spec.system_prompt.clone();
    let mut max_iterations = services.config.max_iterations;
    if let Some(r) = run.as_ref().filter(|r| r.subagent) {
        system_prompt = format!("{system_prompt}\n\n{}", crate::subagents::CHILD_NOTE);
        max_iterations = r.max_turns.map_or(max_iterations, |m| m.min(max_iterations));
    }
    let ctx = RunContext {
        deployment_id: scope.deployment_id.clone(),
        customer_id: scope.customer_id.clone(),
        thread_id: scope.thread_id.clone(),
        run_id: scope.run_id.clone(),
        system_prompt,
        secret_names: spec.secrets.keys().cloned().collect(),
        features: Features { memory: f.memory, dreaming: f.dreaming, automations: f.automations, steering: f.steering },
        disabled_tools,
        max_iterations,
        resumed: matches!(i.purpose, Purpose::Run { resumed: true }),
    };
    let entry = match i.purpose {
        Purpose::Run { .. } => Entry::Run(ctx),
        Purpose::Dream => Entry::Dream(ctx),
    };
    services.runtime.launch(Launch { harness: &harness, env, entry, on_instantiated }).await
}

/// The pre-linked harness `runtime` names: a built-in one, or a harness plugin of the
/// account (compiled once, then cached like the built-in).
async fn harness(services: &Services, account_id: &str, runtime: &str) -> Result<HarnessPre<RunState>, String> {
    if let Some(pre) = services.harnesses.get(runtime) {
        return Ok(pre.clone());
    }
    let row = crate::plugins::harness_plugin(services, account_id, runtime)
        .await
        .map_err(|e| format!("looking up runtime {runtime:?}: {e}"))?
        .ok_or_else(|| format!("unknown runtime {runtime:?}"))?;
    // Every run starts here: after the first, no file read and no hashing.
    if let Some(pre) = services.runtime.loaded_harness(&row.sha256) {
        return Ok(pre);
    }
    let path = crate::plugins::blob_path(&services.data_dir, &row.sha256);
    let wasm =
        tokio::fs::read(&path).await.map_err(|e| format!("the harness plugin {} is unavailable: {e}", row.id))?;
    let (pre, _) = services
        .runtime
        .load_harness(Arc::new(wasm))
        .await
        .map_err(|e| format!("the harness plugin {} cannot run: {e}", row.id))?;
    Ok(pre)
}
