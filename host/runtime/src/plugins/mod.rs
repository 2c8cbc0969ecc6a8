//! Vendor plugins: components of the `tool-plugin` world. The runtime inspects an
//! upload (is it a component, which world, does it compile and link, what tools does
//! `list-tools` return within its budget) and runs each tool call in a fresh instance
//! from a cached pre-link, with its own memory limit, deadline and output cap, so a
//! plugin that loops, hoards memory or panics fails alone, as a tool error.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hermes_secrets::Scrubber;
use hermes_types::spec::WorkspaceAccess;
use hermes_types::sync::Locked;
use hermes_types::text::{MAX_TEXT, preview};
use tokio_util::sync::CancellationToken;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::interrupt::Stopped as Stop;
use crate::limits::TrackedLimits;
use crate::wit::hermes::agent::logging::Level;
use crate::wit::hermes::agent::types::{ToolDefinition, ToolOutput};
use crate::{CappedOutput, Runtime, cache};

/// Host bindings of the `tool-plugin` world; its types are the harness world's.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "hermes:agent/tool-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "hermes:agent/types": crate::wit::hermes::agent::types,
            "hermes:agent/logging": crate::wit::hermes::agent::logging,
        },
    });
}

use bindings::{ToolPlugin, ToolPluginPre};

mod http;
mod pinned;

pub use http::HttpGrant;

/// The custom section a plugin declares its manifest in (JSON, see `docs/plugins.md`).
pub const MANIFEST_SECTION: &str = "hermes:plugin-manifest";
/// Most tools one plugin may list.
pub const MAX_TOOLS: usize = 128;
/// Longest tool description kept.
const MAX_DESCRIPTION: usize = 4096;
/// Largest JSON Schema of one tool's parameters.
const MAX_SCHEMA: usize = 64 << 10;
/// Bytes of plugin stderr quoted when a call traps.
const STDERR_TAIL: usize = 400;

/// Bounds on every plugin instance, with the reason for each default.
#[derive(Clone, Debug)]
pub struct PluginLimits {
    /// Largest upload. Rust tool plugins are ~100 KiB–2 MiB; CPython is ~30 MiB.
    pub max_upload_bytes: usize,
    /// Linear memory of one call's instance: a tool is one task, not an agent loop.
    pub max_memory_bytes: usize,
    /// Wall-clock budget of one tool call.
    pub call_deadline: Duration,
    /// Budget of `list-tools` at upload and attach: it must only describe.
    pub list_deadline: Duration,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            max_upload_bytes: 64 << 20,
            max_memory_bytes: 128 << 20,
            call_deadline: Duration::from_secs(60),
            list_deadline: Duration::from_secs(5),
        }
    }
}

/// Which world an uploaded component implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginWorld {
    /// `tool-plugin`: tools offered to any harness.
    ToolPlugin,
    /// `harness`: a whole agent runtime, usable as a deployment's `runtime`.
    Harness,
}

impl PluginWorld {
    /// The world's WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginWorld::ToolPlugin => "tool-plugin",
            PluginWorld::Harness => "harness",
        }
    }
}

/// Why an upload or a call was refused: always the vendor's to fix, never the host's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPlugin(pub String);

/// What inspecting an upload found.
#[derive(Clone, Debug)]
pub struct Inspected {
    /// The world it implements.
    pub world: PluginWorld,
    /// The `hermes:agent` version of its export, e.g. `0.1.0`.
    pub wit_version: String,
    /// Its tools (empty for a harness).
    pub tools: Vec<ToolDefinition>,
    /// Every interface it imports (`wasi:http/outgoing-handler@0.2.6`, …).
    pub imports: Vec<String>,
    /// The [`MANIFEST_SECTION`] bytes, when it has one.
    pub manifest: Option<Vec<u8>>,
    /// True when the compiled form came from the cache.
    pub cached: bool,
}

/// What one plugin call may reach, as the deployment granted it.
#[derive(Clone, Debug, Default)]
pub struct PluginGrants {
    /// The workspace directory preopened as `/workspace`, and how.
    pub workspace: Option<(PathBuf, WorkspaceAccess)>,
    /// Outgoing HTTP, when granted.
    pub http: Option<HttpGrant>,
    /// `wasi:config/store` values (empty unless granted).
    pub config: Vec<(String, String)>,
}

/// One tool call into a plugin.
pub struct PluginCall<'a> {
    /// The component's content hash (keys the pre-link cache).
    pub sha256: &'a str,
    /// Where its bytes are, read only when it is not pre-linked yet.
    pub path: &'a std::path::Path,
    /// The plugin's name, for logs.
    pub label: &'a str,
    /// The tool's own name (without the `<plugin>__` prefix).
    pub tool: &'a str,
    /// JSON-object arguments.
    pub arguments: &'a str,
    /// What the instance may reach.
    pub grants: &'a PluginGrants,
    /// Secret values scrubbed from what the plugin returns and logs.
    pub secrets: Arc<Scrubber>,
    /// Cancelled with the run.
    pub cancel: CancellationToken,
    /// Cancelled when the host shuts down (the run resumes on the next start).
    pub shutdown: CancellationToken,
}

/// Store data of one plugin instance.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: TrackedLimits,
    output: CappedOutput,
    label: String,
    secrets: Arc<Scrubber>,
    memory_limit: usize,
    http: WasiHttpCtx,
    hooks: http::Hooks,
    config: WasiConfigVariables,
    /// The workspace's quota, when the plugin was granted the workspace.
    quota: Option<Arc<crate::WorkspaceQuota>>,
}

impl crate::quota::HasQuota for PluginState {
    fn quota(&self) -> Option<Arc<crate::WorkspaceQuota>> {
        self.quota.clone()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { hooks: &mut self.hooks, table: &mut self.table, ctx: &mut self.http }
    }
}

impl crate::wit::hermes::agent::types::Host for PluginState {}

impl crate::wit::hermes::agent::logging::Host for PluginState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = crate::imports::bounded_line(&self.secrets, &message);
        let plugin = &self.label;
        match level {
            Level::Trace => tracing::trace!(%plugin, guest = true, "{message}"),
            Level::Debug => tracing::debug!(%plugin, guest = true, "{message}"),
            Level::Info => tracing::info!(%plugin, guest = true, "{message}"),
            Level::Warn => tracing::warn!(%plugin, guest = true, "{message}"),
            Level::Error => tracing::error!(%plugin, guest = true, "{message}"),
        }
        Ok(())
    }
}

/// The plugin half of the runtime: a linker offering plugins only WASI (with no
/// sockets and, unless granted, no filesystem) and `logging`, and pre-links by hash.
pub(crate) struct Plugins {
    linker: Linker<PluginState>,
    pres: Mutex<HashMap<String, ToolPluginPre<PluginState>>>,
    pub(crate) limits: PluginLimits,
}

impl Plugins {
    pub(crate) fn new(engine: &wasmtime::Engine, limits: PluginLimits) -> Result<Plugins, crate::RuntimeError> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| crate::RuntimeError::Link(format!("{e:#}")))?;
        crate::quota::add_to_linker(&mut linker).map_err(|e| crate::RuntimeError::Link(format!("{e:#}")))?;
        // Linked for every plugin; a request is refused unless the deployment granted
        // its host (see `http.rs`), and attaching refuses an importer without the grant.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| crate::RuntimeError::Link(format!("{e:#}")))?;
        wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut PluginState| WasiConfig::from(&s.config))
            .map_err(|e| crate::RuntimeError::Link(format!("{e:#}")))?;
        ToolPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| crate::RuntimeError::Link(format!("{e:#}")))?;
        Ok(Plugins { linker, pres: Mutex::new(HashMap::new()), limits })
    }
}

/// The first `hermes:agent` interface export `name` (without version) and its version.
fn export_version(component: &Component, engine: &wasmtime::Engine, interface: &str) -> Option<String> {
    let prefix = format!("hermes:agent/{interface}@");
    component.component_type().exports(engine).find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_string))
}

/// The plugin's [`MANIFEST_SECTION`], searched in the component and its modules.
fn manifest_section(wasm: &[u8]) -> Option<Vec<u8>> {
    wasmparser::Parser::new(0).parse_all(wasm).find_map(|payload| match payload {
        Ok(wasmparser::Payload::CustomSection(s)) if s.name() == MANIFEST_SECTION => Some(s.data().to_vec()),
        _ => None,
    })
}

/// A tool name the model APIs accept once prefixed: `[A-Za-z0-9_-]{1,64}`.
fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks what `list-tools` returned: names, schemas, duplicates, sizes.
fn check_tools(tools: &[ToolDefinition]) -> Result<(), InvalidPlugin> {
    if tools.is_empty() {
        return Err(InvalidPlugin("`list-tools` returned no tools".into()));
    }
    if tools.len() > MAX_TOOLS {
        return Err(InvalidPlugin(format!("`list-tools` returned {} tools; at most {MAX_TOOLS}", tools.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for t in tools {
        if !valid_tool_name(&t.name) {
            return Err(InvalidPlugin(format!(
                "tool name {:?} is invalid: use 1–64 characters of [A-Za-z0-9_-]",
                preview(&t.name, 80)
            )));
        }
        if t.name.contains("__") {
            return Err(InvalidPlugin(format!("tool name {:?} must not contain `__` (the host's separator)", t.name)));
        }
        if !seen.insert(t.name.as_str()) {
            return Err(InvalidPlugin(format!("tool {:?} is listed twice", t.name)));
        }
        if t.description.len() > MAX_DESCRIPTION {
            return Err(InvalidPlugin(format!("tool {:?}: description longer than {MAX_DESCRIPTION} bytes", t.name)));
        }
        if t.parameters.len() > MAX_SCHEMA {
            return Err(InvalidPlugin(format!("tool {:?}: parameters schema larger than {MAX_SCHEMA} bytes", t.name)));
        }
        match serde_json::from_str::<serde_json::Value>(&t.parameters) {
            Ok(serde_json::Value::Object(schema)) if schema.get("type").is_none_or(|ty| ty == "object") => {}
            Ok(_) => {
                return Err(InvalidPlugin(format!(
                    "tool {:?}: parameters must be a JSON Schema of an object (`{{\"type\": \"object\", …}}`)",
                    t.name
                )));
            }
            Err(e) => return Err(InvalidPlugin(format!("tool {:?}: parameters are not JSON: {e}", t.name))),
        }
    }
    Ok(())
}

impl Runtime {
    /// Limits of plugin instances.
    pub fn plugin_limits(&self) -> &PluginLimits {
        &self.plugins.limits
    }

    /// Validates an upload: a component of `tool-plugin` or `harness` of
    /// `hermes:agent@0.1.x`, within the size limit, compiling and linking against what
    /// the host offers, and (for tools) a `list-tools` that answers in time with valid
    /// tools. The compiled form is cached by content hash, so the same bytes twice
    /// compile once.
    pub async fn inspect_plugin(&self, wasm: Arc<Vec<u8>>) -> Result<Inspected, InvalidPlugin> {
        let limits = &self.plugins.limits;
        if wasm.is_empty() {
            return Err(InvalidPlugin("the upload is empty; send the .wasm component as the body".into()));
        }
        if wasm.len() > limits.max_upload_bytes {
            return Err(InvalidPlugin(format!(
                "the component is {} bytes; the limit is {} MiB",
                wasm.len(),
                limits.max_upload_bytes >> 20
            )));
        }
        if wasmparser::Parser::is_core_wasm(&wasm) {
            return Err(InvalidPlugin(
                "this is a core WebAssembly module, not a component: build with `--target wasm32-wasip2` \
                 (or wrap it with `wasm-tools component new`)"
                    .into(),
            ));
        }
        if !wasmparser::Parser::is_component(&wasm) {
            return Err(InvalidPlugin("not a WebAssembly component (the file lacks the component header)".into()));
        }
        let (component, cached) = self.compile(wasm.clone()).await?;
        let engine = &self.engine;
        let imports: Vec<String> = component.component_type().imports(engine).map(|(n, _)| n.to_string()).collect();
        let manifest = manifest_section(&wasm);
        let (world, wit_version) =
            match (export_version(&component, engine, "tool"), export_version(&component, engine, "agent")) {
                (Some(v), _) => (PluginWorld::ToolPlugin, v),
                (None, Some(v)) => (PluginWorld::Harness, v),
                (None, None) => {
                    let exports: Vec<String> =
                        component.component_type().exports(engine).map(|(n, _)| n.to_string()).take(8).collect();
                    return Err(InvalidPlugin(format!(
                        "the component implements neither `hermes:agent/tool-plugin` nor `hermes:agent/harness` \
                     (it exports: {})",
                        if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
                    )));
                }
            };
        if !wit_version.starts_with("0.1.") {
            return Err(InvalidPlugin(format!(
                "the component targets hermes:agent@{wit_version}; this host speaks hermes:agent@0.1.x"
            )));
        }
        let tools = match world {
            PluginWorld::Harness => {
                self.load_harness(wasm).await.map_err(|e| InvalidPlugin(e.to_string()))?;
                Vec::new()
            }
            PluginWorld::ToolPlugin => {
                let pre = self.link_plugin(&wasm, &component)?;
                let tools = self.list_plugin_tools(&pre, "upload").await?;
                check_tools(&tools)?;
                tools
            }
        };
        Ok(Inspected { world, wit_version, tools, imports, manifest, cached })
    }

    async fn compile(&self, wasm: Arc<Vec<u8>>) -> Result<(Component, bool), InvalidPlugin> {
        let engine = self.engine.clone();
        let dir = self.cache_dir.clone();
        tokio::task::spawn_blocking(move || cache::load_or_compile(&engine, &dir, &wasm))
            .await
            .map_err(|e| InvalidPlugin(format!("compiling the component: {e}")))?
            .map_err(|e| InvalidPlugin(e.to_string()))
    }

    fn link_plugin(&self, wasm: &[u8], component: &Component) -> Result<ToolPluginPre<PluginState>, InvalidPlugin> {
        let hash = cache::component_hash(wasm);
        if let Some(pre) = self.plugins.pres.locked().get(&hash) {
            return Ok(pre.clone());
        }
        let pre = self
            .plugins
            .linker
            .instantiate_pre(component)
            .and_then(ToolPluginPre::new)
            .map_err(|e| InvalidPlugin(format!("the component cannot be linked: {e:#}")))?;
        self.plugins.pres.locked().insert(hash, pre.clone());
        Ok(pre)
    }

    /// The pre-linked plugin with this hash, reading and compiling (or loading the
    /// compiled form) on a miss: after the first call only the compiled code stays.
    async fn plugin_pre(
        &self,
        sha256: &str,
        path: &std::path::Path,
    ) -> Result<ToolPluginPre<PluginState>, InvalidPlugin> {
        if let Some(pre) = self.plugins.pres.locked().get(sha256) {
            return Ok(pre.clone());
        }
        let wasm = tokio::fs::read(path)
            .await
            .map_err(|e| InvalidPlugin(format!("the plugin's component is unavailable on this host: {e}")))?;
        let (component, _) = self.compile(Arc::new(wasm.clone())).await?;
        self.link_plugin(&wasm, &component)
    }

    /// A fresh store for one plugin instance, with its limits and deadline.
    async fn plugin_store(
        &self,
        label: &str,
        grants: &PluginGrants,
        secrets: Arc<Scrubber>,
        deadline: Duration,
        cancel: CancellationToken,
        shutdown: CancellationToken,
    ) -> Result<Store<PluginState>, InvalidPlugin> {
        let output = CappedOutput::new(16 << 10);
        let quota = match &grants.workspace {
            Some((dir, _)) => Some(self.workspace_quota(dir).await),
            None => None,
        };
        let mut b = WasiCtxBuilder::new();
        b.stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(64 << 10);
        if let Some((dir, access)) = &grants.workspace {
            let perms = match access {
                WorkspaceAccess::Read => FsPerms::ReadOnly,
                WorkspaceAccess::ReadWrite => FsPerms::ReadWrite,
            };
            b.initial_cwd("/workspace");
            b.preopened_dir(dir, "/workspace", perms)
                .map_err(|e| InvalidPlugin(format!("preopening the workspace: {e:#}")))?;
        }
        let limits = TrackedLimits::bounded(self.plugins.limits.max_memory_bytes, self.limits.max_table_elements);
        let hooks = http::Hooks { grant: grants.http.clone(), scrubber: secrets.clone() };
        let state = PluginState {
            wasi: b.build(),
            table: ResourceTable::new(),
            limits,
            output,
            label: label.to_string(),
            secrets,
            memory_limit: self.plugins.limits.max_memory_bytes,
            http: WasiHttpCtx::new(),
            hooks,
            config: grants.config.iter().cloned().collect(),
            quota,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        crate::interrupt::arm(&mut store, deadline, cancel, shutdown, |i| wasmtime::Error::new(Stop::from(i)));
        Ok(store)
    }

    async fn list_plugin_tools(
        &self,
        pre: &ToolPluginPre<PluginState>,
        label: &str,
    ) -> Result<Vec<ToolDefinition>, InvalidPlugin> {
        let deadline = self.plugins.limits.list_deadline;
        let mut store = self
            .plugin_store(
                label,
                &PluginGrants::default(),
                Arc::new(Scrubber::default()),
                deadline,
                CancellationToken::new(),
                CancellationToken::new(),
            )
            .await?;
        let listed = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.hermes_agent_tool().call_list_tools(&mut store).await
        };
        match tokio::time::timeout(deadline + Duration::from_secs(1), listed).await {
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(trap)) => Err(InvalidPlugin(format!("`list-tools` {}", describe(&trap, &store)))),
            Err(_) => Err(InvalidPlugin(format!("`list-tools` ran longer than its limit of {deadline:?}"))),
        }
    }

    /// Runs one tool call in a fresh instance. `Err` is a message for the model: the
    /// plugin refused the call, trapped, overran its deadline or memory, or answered
    /// more than the host keeps.
    pub async fn call_plugin(&self, call: PluginCall<'_>) -> Result<ToolOutput, String> {
        let pre = self.plugin_pre(call.sha256, call.path).await.map_err(|e| e.0)?;
        let deadline = self.plugins.limits.call_deadline;
        let mut store = self
            .plugin_store(
                call.label,
                call.grants,
                call.secrets.clone(),
                deadline,
                call.cancel.clone(),
                call.shutdown.clone(),
            )
            .await
            .map_err(|e| e.0)?;
        let called = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.hermes_agent_tool().call_call_tool(&mut store, call.tool, call.arguments).await
        };
        let result = match tokio::time::timeout(deadline + Duration::from_secs(1), called).await {
            Err(_) => Err(format!("the plugin ran longer than its limit of {deadline:?}")),
            Ok(Err(trap)) => {
                let reason = format!("the plugin {}", describe(&trap, &store));
                tracing::info!(plugin = call.label, tool = call.tool, %reason, "plugin call failed");
                tracing::debug!(plugin = call.label, trap = %format!("{trap:?}"), "plugin trap");
                Err(reason)
            }
            Ok(Ok(Err(refusal))) => Err(preview(&refusal, 4096)),
            Ok(Ok(Ok(out))) if out.content.len() > MAX_TEXT => {
                Err(format!("the plugin answered {} bytes; the limit is {} MiB", out.content.len(), MAX_TEXT >> 20))
            }
            Ok(Ok(Ok(out))) => Ok(out),
        };
        let secrets = &call.secrets;
        result
            .map(|out| ToolOutput { content: secrets.scrub_owned(out.content), is_error: out.is_error })
            .map_err(|e| secrets.scrub_owned(e))
    }
}

/// A trap, phrased for the model or the vendor: stopped by the host, out of memory,
/// or the guest's own trap with the tail of what it printed.
fn describe(trap: &wasmtime::Error, store: &Store<PluginState>) -> String {
    if let Some(stop) = trap.downcast_ref::<Stop>() {
        return format!("was stopped: {stop}");
    }
    if store.data().limits.memory_denied {
        return format!("exceeded its memory limit of {} MiB", store.data().memory_limit >> 20);
    }
    let what = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(t) => t.to_string(),
        None => format!("{trap}"),
    };
    let (output, _) = store.data().output.contents();
    match crate::output::tail(&output, STDERR_TAIL) {
        "" => format!("trapped: {what}"),
        tail => format!("trapped: {what}; its last output: {tail}"),
    }
}
