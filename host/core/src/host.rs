//! `Host` and `HostBuilder`: the embedding API. The REST API is a thin layer over it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::config::HostConfig;
use crate::conversations::TranscriptEntry;
use crate::deployments::{self, Deployment};
use crate::handle::Core;
use crate::runs::{Run, RunManager, RunTicket, ThreadTarget};
use crate::services::Services;
use crate::skills_api::{self, SkillObject};
use crate::{HostError, builtin, workspace};
use hermes_events::{EventHub, Subscription};
use hermes_providers::Providers;
use hermes_runtime::Runtime;
use hermes_store::runs::{self, RunStatus};
use hermes_store::threads;
use hermes_store::{Db, events as event_log};
use hermes_types::spec::{DeploymentSpec, SkillSpec};

/// Longest a shutdown waits for background tasks and live runs to stop.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The account objects belong to when the embedding host has no accounts.
pub const DEFAULT_ACCOUNT: &str = "acct_default";

/// Configures and starts a [`Host`].
pub struct HostBuilder {
    data_dir: PathBuf,
    config: HostConfig,
    env: Option<HashMap<String, String>>,
    harnesses: HashMap<String, Vec<u8>>,
    clock: Option<Arc<dyn crate::clock::Clock>>,
}

impl HostBuilder {
    /// A builder storing everything under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> HostBuilder {
        HostBuilder {
            data_dir: data_dir.into(),
            config: HostConfig::default(),
            env: None,
            harnesses: HashMap::new(),
            clock: None,
        }
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: HostConfig) -> HostBuilder {
        self.config = config;
        self
    }

    /// Environment the providers read keys and base URLs from (default: the process's).
    pub fn env(mut self, vars: HashMap<String, String>) -> HostBuilder {
        self.env = Some(vars);
        self
    }

    /// The clock the automation scheduler reads "now" from (default: the system
    /// clock); tests pass a [`crate::clock::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> HostBuilder {
        self.clock = Some(clock);
        self
    }

    /// Registers a harness component under a runtime name deployments can choose.
    pub fn harness(mut self, name: &str, wasm: Vec<u8>) -> HostBuilder {
        self.harnesses.insert(name.to_string(), wasm);
        self
    }

    /// Opens the store, prepares the runtime (compiling or loading the built-in
    /// harness), and resumes runs a previous process left unfinished.
    pub async fn build(self) -> Result<Host, HostError> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(HostError::io(format!("creating {}", self.data_dir.display())))?;
        std::fs::create_dir_all(workspace::root(&self.data_dir))
            .map_err(HostError::io("creating the workspaces folder"))?;
        let db_path = self.data_dir.join("hermes.db");
        let db = tokio::task::spawn_blocking(move || Db::open(&db_path)).await.map_err(|e| HostError::Io {
            context: "opening the database".into(),
            source: std::io::Error::other(e),
        })??;
        let env = self.env.unwrap_or_else(|| std::env::vars().collect());
        let mut config = self.config;
        // HERMES_CACHE_DIR lets hosts of one build share compiled components (entries are
        // keyed by component and engine hashes and written by atomic rename).
        let cache_dir = match env.get("HERMES_CACHE_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => self.data_dir.join("cache").join("components"),
        };
        let runtime = Runtime::with_plugin_limits(config.limits.clone(), config.plugins.clone(), cache_dir)?;
        config.apply_env(&env).map_err(|m| HostError::invalid("config", m))?;
        let secrets = hermes_secrets::Secrets::open(db.clone(), &self.data_dir, &env).await?;
        let providers = Providers::new(&config.providers, &env, config.retry.clone());
        // Not configured: the default model follows the provider keys the host has, so a
        // host with only an OpenAI key does not default to a model it cannot call.
        if config.default_model == crate::config::DEFAULT_MODEL
            && let Some(model) = crate::config::default_model_for(&providers)
        {
            config.default_model = model.to_string();
        }
        let clock = crate::automations::scheduler::clock(self.clock, &config.automations, &env).await?;
        let mut components = self.harnesses;
        components.entry("hermes".into()).or_insert_with(|| builtin::HERMES_HARNESS.to_vec());
        // Compiled (or loaded from the disk cache) and pre-linked once, here: a run
        // only instantiates.
        let mut harnesses = HashMap::with_capacity(components.len());
        let mut harness_tools = HashMap::with_capacity(components.len());
        for (name, wasm) in components {
            // The Tools API lists what the component itself declares.
            harness_tools.insert(name.clone(), hermes_runtime::builtin_tools(&wasm));
            let started = std::time::Instant::now();
            let (pre, from_cache) = runtime.load_harness(Arc::new(wasm)).await?;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::info!(harness = %name, from_cache, elapsed_ms, "harness ready");
            harnesses.insert(name, pre);
        }
        let fsevents = Arc::new(crate::fsevents::FsWatcher::new(&self.data_dir));
        let mcp = crate::mcp::McpPool::new(config.mcp.clone(), config.allow_private_urls, secrets.clone())
            .map_err(|e| HostError::Io { context: "setting up MCP".into(), source: std::io::Error::other(e) })?;
        let lease = crate::instance::Lease::acquire(&self.data_dir)
            .map_err(HostError::io(format!("taking the instance lease in {}", self.data_dir.display())))?;
        let pricing = Arc::new(config.pricing.clone());
        let runtime = Arc::new(runtime);
        let sandbox = config.code_tools.enabled.then(|| {
            let mut bounds = config.code_tools.sandbox.clone();
            // A program's memory must fit the instance pool's slots.
            bounds.memory_bytes = bounds.memory_bytes.min(config.limits.max_memory_bytes);
            Arc::new(hermes_sandbox::Sandbox::new(runtime.clone(), bounds))
        });
        let web = if config.web.fetch || config.search.is_some() {
            let web =
                crate::web::Web::new(&config.web, config.search.as_ref(), config.allow_private_urls).map_err(|e| {
                    HostError::Io { context: "setting up the web tools".into(), source: std::io::Error::other(e) }
                })?;
            Some(Arc::new(web))
        } else {
            None
        };
        let services = Arc::new(Services {
            web,
            lease,
            hub: EventHub::new(db.clone()).with_max_lag(config.events.max_subscriber_lag),
            db,
            providers,
            runtime,
            sandbox,
            config,
            data_dir: self.data_dir,
            harnesses,
            harness_tools,
            pricing,
            fsevents,
            mcp: Arc::new(mcp),
            secrets,
            shutdown: CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            dreams: crate::dream_slots::Dreams::default(),
            clock,
        });
        // Registered before anything can append (recovery below resumes runs): every
        // event commit from here on queues its webhook deliveries.
        let outbox = Arc::new(tokio::sync::Notify::new());
        services.hub.register(Arc::new(crate::webhooks::OutboxHook::new(outbox.clone())));
        services.hub.register(Arc::new(crate::metrics::EventCounter));
        // Credits held by model calls a crash interrupted were never charged.
        let released = services.db.write(hermes_store::usage::release_all).await?;
        if released > 0 {
            tracing::info!(holds = released, "released the credit holds of interrupted model calls");
        }
        let runs = RunManager::default();
        runs.recover(&services).await?;
        services.tasks.spawn(hermes_events::retention::run(
            services.db.clone(),
            services.hub.clone(),
            services.config.events.clone(),
            services.shutdown.clone(),
        ));
        crate::dreaming::spawn(services.clone());
        let starter: Arc<dyn crate::handle::RunStarter> =
            Arc::new(crate::runs::Starter { runs: runs.clone(), services: services.clone() });
        crate::automations::scheduler::spawn(services.clone(), starter.clone());
        crate::approvals::sweeper::spawn(services.clone(), starter.clone());
        crate::fsevents::spawn(Arc::new(crate::fsevents::Reporter {
            db: services.db.clone(),
            hub: services.hub.clone(),
            watcher: services.fsevents.clone(),
            shutdown: services.shutdown.clone(),
            tasks: services.tasks.clone(),
        }))
        .await;
        crate::webhooks::delivery::spawn(services.clone(), outbox);
        crate::retained::spawn(services.clone());
        if let Some(sandbox) = services.sandbox.clone().filter(|_| services.config.code_tools.preload) {
            // Not tracked: shutdown need not wait for a compilation nobody awaits.
            tokio::spawn(async move {
                if let Err(e) = sandbox.warm().await {
                    tracing::warn!(error = %e, "the python and shell tools are unavailable");
                }
            });
        }
        let accounts = Accounts::new(services.db.clone());
        let stop = Arc::new(StopOnDrop(services.shutdown.clone()));
        let core = Core { services: services.clone(), starter };
        Ok(Host { core, services, runs, accounts, _stop: stop })
    }
}

/// A running Hermes host: deployments, runs, events — no HTTP required.
#[derive(Clone)]
pub struct Host {
    core: Core,
    services: Arc<Services>,
    runs: RunManager,
    accounts: Accounts,
    /// Shared by every clone: when the last handle goes, the host's background tasks
    /// (scheduler, sweeper, deliveries, dreams, retention) and live runs stop.
    _stop: Arc<StopOnDrop>,
}

impl std::ops::Deref for Host {
    type Target = Core;

    /// The domain API ([`Core`]): every operation that needs no run manager.
    fn deref(&self) -> &Core {
        &self.core
    }
}

/// Cancels the host's shutdown token when dropped (an embedder that drops its last
/// `Host` without calling [`Host::shutdown`] does not leak running tasks).
#[derive(Debug)]
struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Host {
    /// Shorthand for [`HostBuilder::new`].
    pub fn builder(data_dir: impl Into<PathBuf>) -> HostBuilder {
        HostBuilder::new(data_dir)
    }

    /// Accounts, API keys and credits.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Every model provider with whether it can take calls, or why not and what to set.
    pub fn provider_status(&self) -> Vec<hermes_providers::ProviderStatus> {
        self.services.providers.status()
    }

    /// The model a deployment created without `model` gets.
    pub fn default_model(&self) -> &str {
        &self.services.config.default_model
    }

    /// How the API names itself in the URLs it answers with (`[api]`).
    pub fn api_config(&self) -> &crate::config::ApiConfig {
        &self.services.config.api
    }

    /// The per-tenant bounds (`[tenants]`); the API enforces the request-rate and
    /// event-stream ones.
    pub fn tenant_limits(&self) -> &crate::config::TenantLimits {
        &self.services.config.tenants
    }

    /// The token `/metrics` requires, when one is configured (`HERMES_METRICS_TOKEN`).
    pub fn metrics_token(&self) -> Option<&str> {
        self.services.config.metrics_token.as_deref()
    }

    /// Prometheus text for `/metrics`.
    pub async fn metrics(&self) -> Result<String, HostError> {
        crate::metrics::render(&self.services).await
    }

    /// Compiles every component this host can run (the harnesses, and the code tools'
    /// programs when they are enabled) into the component cache now, so that no run
    /// waits for a compilation. Returns whether the code tools' programs were included.
    pub async fn precompile(&self) -> Result<bool, HostError> {
        // The harnesses were compiled (or loaded from the cache) by the builder.
        match &self.services.sandbox {
            Some(sandbox) => {
                sandbox.warm().await.map_err(|e| HostError::Io {
                    context: "compiling the code tools' programs".into(),
                    source: std::io::Error::other(e),
                })?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.services.data_dir
    }

    /// Whether instances come from the pooling allocator.
    pub fn pooling(&self) -> bool {
        self.services.runtime.pooling()
    }

    /// Creates a deployment in the default account.
    pub async fn create_deployment(&self, spec: DeploymentSpec) -> Result<Deployment, HostError> {
        self.create_deployment_in(DEFAULT_ACCOUNT, spec).await
    }

    /// Creates a deployment owned by `account_id`.
    pub async fn create_deployment_in(&self, account_id: &str, spec: DeploymentSpec) -> Result<Deployment, HostError> {
        self.create_deployment_with_files(account_id, spec, Vec::new()).await
    }

    /// Creates a deployment whose workspace starts with `uploads` (e.g. `file` skills).
    pub async fn create_deployment_with_files(
        &self,
        account_id: &str,
        spec: DeploymentSpec,
        uploads: Vec<deployments::Upload>,
    ) -> Result<Deployment, HostError> {
        self.create_deployment_as(account_id, spec, uploads, deployments::Authority::FULL).await
    }

    /// [`Host::create_deployment_with_files`] on behalf of a caller with `authority`
    /// (the API passes what the presenting key may do).
    pub async fn create_deployment_as(
        &self,
        account_id: &str,
        spec: DeploymentSpec,
        uploads: Vec<deployments::Upload>,
        authority: deployments::Authority,
    ) -> Result<Deployment, HostError> {
        let d = deployments::create(&self.services, account_id, spec, uploads, authority).await?;
        if let Some(folders) = self.services.fsevents.set(&d.deployment_id, d.spec.features.filesystem_webhooks).await {
            crate::fsevents::report_over_budget(&self.services.hub, &d.deployment_id, folders).await;
        }
        Ok(d)
    }

    /// Lists an account's deployments, newest first (`limit` 1–100).
    pub async fn list_deployments(
        &self,
        account_id: &str,
        filter: hermes_types::paging::DeploymentFilter,
        limit: u32,
    ) -> Result<hermes_types::paging::Page<Deployment>, HostError> {
        deployments::list(&self.services, account_id, filter, limit).await
    }

    /// Changes a deployment (merge semantics of PATCH); applies from the next run.
    pub async fn patch_deployment(
        &self,
        account_id: &str,
        deployment_id: &str,
        patch: serde_json::Value,
    ) -> Result<Deployment, HostError> {
        self.patch_deployment_as(account_id, deployment_id, patch, deployments::Authority::FULL).await
    }

    /// [`Host::patch_deployment`] on behalf of a caller with `authority`.
    pub async fn patch_deployment_as(
        &self,
        account_id: &str,
        deployment_id: &str,
        patch: serde_json::Value,
        authority: deployments::Authority,
    ) -> Result<Deployment, HostError> {
        let d = deployments::patch(&self.services, account_id, deployment_id, patch, authority).await?;
        if let Some(folders) = self.services.fsevents.set(deployment_id, d.spec.features.filesystem_webhooks).await {
            crate::fsevents::report_over_budget(&self.services.hub, deployment_id, folders).await;
        }
        Ok(d)
    }

    /// Deletes a deployment: stops its runs, removes its data; with
    /// `retain_filesystem` the workspace is kept (listed and readable under
    /// [`Core::retained_workspace`] until it expires) and returned.
    pub async fn delete_deployment(
        &self,
        account_id: &str,
        deployment_id: &str,
        retain_filesystem: bool,
    ) -> Result<Option<crate::retained::RetainedWorkspace>, HostError> {
        self.deployment_in(account_id, deployment_id).await?;
        // Removing the workspace is not a change to report.
        self.services.fsevents.set(deployment_id, false).await;
        self.runs.cancel_deployment(&self.services, deployment_id).await?;
        self.services.dreams.cancel(deployment_id);
        self.services.mcp.forget(deployment_id);
        deployments::delete(&self.services, account_id, deployment_id, retain_filesystem).await
    }

    /// The deployment's skills (declared and agent-written), without their content.
    pub async fn skills(&self, account_id: &str, deployment_id: &str) -> Result<Vec<SkillObject>, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        skills_api::list(&self.services, &d, false).await
    }

    /// One skill with its SKILL.md content.
    pub async fn skill(&self, account_id: &str, deployment_id: &str, skill_id: &str) -> Result<SkillObject, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        skills_api::get(&self.services, &d, skill_id).await
    }

    /// Adds a skill (validated, installed; applies from the next run).
    pub async fn add_skill(
        &self,
        account_id: &str,
        deployment_id: &str,
        skill: SkillSpec,
    ) -> Result<SkillObject, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        skills_api::add(&self.services, &d, skill).await
    }

    /// Replaces a declared skill; a `url` skill is fetched again.
    pub async fn replace_skill(
        &self,
        account_id: &str,
        deployment_id: &str,
        skill_id: &str,
        skill: SkillSpec,
    ) -> Result<SkillObject, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        skills_api::replace(&self.services, &d, skill_id, skill).await
    }

    /// Removes a skill.
    pub async fn remove_skill(&self, account_id: &str, deployment_id: &str, skill_id: &str) -> Result<(), HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        skills_api::remove(&self.services, &d, skill_id).await
    }

    /// The deployment's tools with their origin and whether they are enabled.
    pub async fn tools(&self, account_id: &str, deployment_id: &str) -> Result<Vec<crate::tools::ToolInfo>, HostError> {
        crate::tools::list_all(&self.services, &self.deployment_in(account_id, deployment_id).await?).await
    }

    /// Enables or disables a tool of a deployment.
    pub async fn set_tool_enabled(
        &self,
        account_id: &str,
        deployment_id: &str,
        name: &str,
        enabled: bool,
    ) -> Result<crate::tools::ToolInfo, HostError> {
        let d = self.deployment_in(account_id, deployment_id).await?;
        crate::tools::set_enabled(&self.services, &d, name, enabled).await
    }

    /// Sends a user message: starts a run, or steers the thread's active run.
    pub async fn send_message(
        &self,
        deployment_id: &str,
        content: impl Into<String>,
        thread: ThreadTarget,
    ) -> Result<RunTicket, HostError> {
        self.send_message_with(deployment_id, content, thread, Vec::new()).await
    }

    /// Like [`Host::send_message`], with attachments (http(s) URLs, validated) that
    /// are recorded with the message and listed to the model after its text.
    pub async fn send_message_with(
        &self,
        deployment_id: &str,
        content: impl Into<String>,
        thread: ThreadTarget,
        attachments: Vec<hermes_store::threads::Attachment>,
    ) -> Result<RunTicket, HostError> {
        let content = content.into();
        if content.trim().is_empty() {
            return Err(HostError::invalid("content", "`content` must not be empty"));
        }
        crate::conversations::validate_attachments(&attachments)?;
        self.runs.send(&self.services, deployment_id, content, thread, attachments).await
    }

    /// Appends an event of the embedder's own to a deployment's stream (persisted, then
    /// broadcast). Types must start with `custom.`: the others belong to the host.
    pub async fn emit_event(
        &self,
        deployment_id: &str,
        kind: &str,
        payload: serde_json::Value,
    ) -> Result<hermes_events::Event, HostError> {
        if !kind.starts_with("custom.") || kind.len() <= "custom.".len() || kind.len() > 64 {
            return Err(HostError::invalid(
                "type",
                "event types of an embedder are `custom.<name>` (at most 64 chars)",
            ));
        }
        if !payload.is_object() {
            return Err(HostError::invalid("data", "event data must be a JSON object"));
        }
        let event = hermes_events::NewEvent::new(kind, deployment_id, payload);
        let dep = deployment_id.to_string();
        // The existence check rides in the append's own transaction: one round trip.
        let (_, mut events) = self
            .services
            .hub
            .commit(deployment_id, move |conn| {
                if !hermes_store::deployments::exists(conn, &dep)? {
                    return Err(hermes_store::StoreError::NotFound(format!("deployment {dep}")));
                }
                Ok(((), vec![event]))
            })
            .await?;
        events.pop().ok_or_else(|| HostError::Store(hermes_store::StoreError::Corrupt("event not appended".into())))
    }

    /// Subscribes to a deployment's events after sequence `after` (0 = all).
    pub async fn subscribe(&self, deployment_id: &str, after: u64) -> Result<Subscription, HostError> {
        self.deployment(deployment_id).await?;
        Ok(self.services.hub.subscribe(deployment_id, after))
    }

    /// The oldest event a deployment still has (`None` when it has none): a resume
    /// from before `oldest - 1` cannot be exact and is refused.
    pub async fn oldest_event(&self, deployment_id: &str) -> Result<Option<u64>, HostError> {
        let dep = deployment_id.to_string();
        Ok(self.services.db.read(move |conn| event_log::oldest(conn, &dep)).await?)
    }

    /// Sequence of the deployment's newest event, if any: where a stream that asks for
    /// no cursor starts (it then sees what happens from now on).
    pub async fn newest_event(&self, deployment_id: &str) -> Result<Option<u64>, HostError> {
        let dep = deployment_id.to_string();
        Ok(self.services.db.read(move |conn| event_log::newest(conn, &dep)).await?)
    }

    /// Runs one event-retention pass now (the host also runs it every
    /// `[events] prune_interval_secs`); returns how many events were removed.
    pub async fn prune_events(&self) -> Result<u64, HostError> {
        Ok(hermes_events::retention::prune(&self.services.db, &self.services.hub, &self.services.config.events).await?)
    }

    /// Loads a run.
    pub async fn run(&self, run_id: &str) -> Result<Run, HostError> {
        let id = run_id.to_string();
        self.services
            .db
            .read(move |conn| runs::get(conn, &id))
            .await?
            .map(Run::from)
            .ok_or_else(|| HostError::NotFound(format!("run {run_id} not found")))
    }

    /// Waits until a run is no longer queued or running.
    pub async fn wait_for_run(&self, run_id: &str) -> Result<Run, HostError> {
        let run = self.run(run_id).await?;
        let dep = run.deployment_id.clone();
        let latest = self.services.db.read(move |conn| event_log::latest(conn, &dep)).await?;
        // Subscribed before the status check below, so the final event cannot slip by.
        let mut sub = self.services.hub.subscribe(&run.deployment_id, latest);
        loop {
            let run = self.run(run_id).await?;
            if !matches!(run.status, RunStatus::Queued | RunStatus::Running) {
                return Ok(run);
            }
            loop {
                let e = match sub.next().await {
                    Ok(e) => e,
                    // Fell behind a very busy deployment: look at the run again.
                    Err(hermes_events::SubscriptionError::Expired(_)) => {
                        let dep = run.deployment_id.clone();
                        let latest = self.services.db.read(move |conn| event_log::latest(conn, &dep)).await?;
                        sub = self.services.hub.subscribe(&run.deployment_id, latest);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                if e.kind == "run_status" && e.run_id.as_deref() == Some(run_id) {
                    break;
                }
            }
        }
    }

    /// Deletes a thread of a deployment of `account_id` with its messages, cancelling
    /// its unfinished run (and that run's subagents) first. The default thread cannot
    /// be deleted (a conflict): messages without a thread go there.
    pub async fn delete_thread(&self, account_id: &str, deployment_id: &str, thread_id: &str) -> Result<(), HostError> {
        let thread = self.thread(account_id, deployment_id, thread_id).await?;
        if thread.is_default {
            return Err(HostError::Conflict(format!(
                "thread {thread_id} is the deployment's default thread (messages without a thread_id go there);                  it cannot be deleted"
            )));
        }
        if let Some(run_id) = self.active_run_of_thread(thread_id).await? {
            self.runs.cancel_and_settle(&self.services, &[run_id]).await?;
        }
        let (dep, id) = (deployment_id.to_string(), thread_id.to_string());
        self.services
            .db
            .write(move |conn| {
                // Checked with the delete: a message that started a run meanwhile wins.
                if hermes_store::runs::active_on_thread(conn, &id)?.is_some() {
                    return Err(hermes_store::StoreError::Conflict(format!(
                        "a run started on thread {id} while it was being deleted; cancel it and retry"
                    )));
                }
                threads::delete_thread(conn, &dep, &id)?;
                Ok(())
            })
            .await?;
        tracing::info!(deployment_id, thread_id, "thread deleted");
        Ok(())
    }

    /// Cancels a run.
    pub async fn cancel_run(&self, run_id: &str) -> Result<RunStatus, HostError> {
        self.runs.cancel(&self.services, run_id).await
    }

    /// The latest `limit` messages of a thread, oldest first.
    pub async fn thread_messages(&self, thread_id: &str, limit: u32) -> Result<Vec<TranscriptEntry>, HostError> {
        let id = thread_id.to_string();
        let rows = self.services.db.read(move |conn| threads::history(conn, &id, limit)).await?;
        Ok(rows.into_iter().map(TranscriptEntry::from).collect())
    }

    /// Cancelled once the host begins shutting down (ends event streams, interrupts
    /// live runs so they resume on the next start).
    pub fn stopping(&self) -> CancellationToken {
        self.services.shutdown.clone()
    }

    /// Stops live runs (they resume on the next start) and closes the store.
    pub async fn shutdown(&self) {
        self.services.shutdown.cancel();
        // Every task and run executor watches the token: wait for them to end (an
        // instance traps at its next epoch tick), but never hang on a stuck host call.
        let tasks = &self.services.tasks;
        tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await.is_err() {
            tracing::warn!(left = tasks.len(), "shutting down with background tasks still running");
        }
        self.services.db.close();
    }
}
