//! Engine configuration (in one place, so cached artifacts stay valid) and the
//! per-run store factory.

use hermes_types::sync::Locked;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store};

use super::wit::{Harness, HarnessPre};
use super::{RunState, RuntimeError, SandboxLimits, cache};
use crate::plugins::{PluginLimits, Plugins};

/// How often the epoch advances: the granularity of deadlines, cancellation and
/// of yielding a busy guest back to the executor.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The shared Wasm runtime of a host.
pub struct Runtime {
    pub(crate) engine: Engine,
    linker: Linker<RunState>,
    pub(crate) cache_dir: PathBuf,
    pub(crate) limits: SandboxLimits,
    pub(crate) plugins: Plugins,
    pub(crate) commands: Linker<crate::commands::CommandState>,
    loaded: Mutex<HashMap<String, HarnessPre<RunState>>>,
    slots: Arc<crate::slots::Pool>,
    quotas: crate::quota::Quotas,
    ticker_stop: Arc<AtomicBool>,
    pooling: bool,
}

fn base_config(limits: &SandboxLimits) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.cranelift_opt_level(OptLevel::Speed);
    c.max_wasm_stack(limits.max_wasm_stack);
    c
}

fn pooling_config(limits: &SandboxLimits) -> PoolingAllocationConfig {
    // Each live run may have one plugin call's instance beside its own, and uploads
    // validate a few more: room for two instances per run plus some.
    let n = limits.max_concurrent_instances.max(1) * 2 + 8;
    let mut p = PoolingAllocationConfig::default();
    p.total_component_instances(n)
        // A Rust wasip2 component is a handful of core instances (main module plus
        // canonical-ABI shims) with one memory and a few tables.
        .total_core_instances(n * 16)
        .total_memories(n * 2)
        .total_tables(n * 8)
        .total_stacks(n)
        .max_core_instances_per_component(16)
        .max_memories_per_component(2)
        .max_tables_per_component(8)
        .max_memory_size(limits.max_memory_bytes)
        .table_elements(limits.max_table_elements);
    p
}

impl Runtime {
    /// Builds the engine (pooling allocator when the machine allows its address
    /// space reservation, on-demand otherwise) and starts the epoch ticker.
    pub fn new(limits: SandboxLimits, cache_dir: PathBuf) -> Result<Runtime, RuntimeError> {
        Runtime::with_plugin_limits(limits, PluginLimits::default(), cache_dir)
    }

    /// [`Runtime::new`] with explicit bounds on plugin instances.
    pub fn with_plugin_limits(
        limits: SandboxLimits,
        plugin_limits: PluginLimits,
        cache_dir: PathBuf,
    ) -> Result<Runtime, RuntimeError> {
        let mut config = base_config(&limits);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(&limits)));
        let (engine, pooling) = match Engine::new(&config) {
            Ok(e) => (e, true),
            Err(err) => {
                tracing::warn!(error = %err, "pooling allocator unavailable; using on-demand allocation");
                let config = base_config(&limits);
                (Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?, false)
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        crate::quota::add_to_linker(&mut linker).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        Harness::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Link(format!("{e:#}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stop = ticker_stop.clone();
        // Off the async executor, as wasmtime recommends: a plain thread.
        std::thread::Builder::new()
            .name("hermes-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("epoch thread: {e}")))?;

        let slots = crate::slots::Pool::new(limits.max_concurrent_instances as usize);
        let plugins = Plugins::new(&engine, plugin_limits)?;
        let commands = crate::commands::linker(&engine)?;
        Ok(Runtime {
            plugins,
            commands,
            engine,
            linker,
            cache_dir,
            limits: limits.clone(),
            loaded: Mutex::new(HashMap::new()),
            slots,
            quotas: crate::quota::Quotas::new(limits.max_workspace_bytes),
            ticker_stop,
            pooling,
        })
    }

    /// True when the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// The limits every instance gets.
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// The pre-linked harness with this content hash, if it was loaded already.
    pub fn loaded_harness(&self, sha256: &str) -> Option<HarnessPre<RunState>> {
        self.loaded.locked().get(sha256).cloned()
    }

    /// Compiles (or loads from the disk cache) a harness component and pre-links it.
    /// Returns whether the compiled form came from the cache.
    pub async fn load_harness(&self, wasm: Arc<Vec<u8>>) -> Result<(HarnessPre<RunState>, bool), RuntimeError> {
        let hash = cache::component_hash(&wasm);
        if let Some(pre) = self.loaded.locked().get(&hash) {
            return Ok((pre.clone(), true));
        }
        let engine = self.engine.clone();
        let dir = self.cache_dir.clone();
        let (component, cached) = tokio::task::spawn_blocking(move || cache::load_or_compile(&engine, &dir, &wasm))
            .await
            .map_err(|e| RuntimeError::Compile(e.to_string()))??;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        let pre = HarnessPre::new(instance_pre).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        self.loaded.locked().insert(hash, pre.clone());
        Ok((pre, cached))
    }

    /// Instances alive right now (slots taken).
    pub fn live_instances(&self) -> usize {
        self.slots.taken()
    }

    /// Waits for an instance slot (bounded concurrency: excess runs queue), in the
    /// tenant's fair turn: accounts take turns, then their deployments.
    pub async fn slot(&self, tenant: &crate::Tenant) -> crate::Slot {
        self.slots.acquire(tenant).await
    }

    /// The quota of the workspace at `dir`, shared by every instance that opens it
    /// (and by the host's own writes, such as the Files API).
    pub async fn workspace_quota(&self, dir: &std::path::Path) -> Arc<crate::WorkspaceQuota> {
        self.quotas.of(dir).await
    }

    /// A fresh store for one run: memory/table/instance limits, and an epoch
    /// callback that yields to the executor every tick and traps on cancel or deadline.
    pub fn new_store(&self, mut state: RunState) -> Store<RunState> {
        state.limits =
            crate::limits::TrackedLimits::bounded(self.limits.max_memory_bytes, self.limits.max_table_elements);
        let budget = self.limits.run_deadline;
        let cancel = state.env.cancel.clone();
        let shutdown = state.env.shutdown.clone();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        crate::interrupt::arm(&mut store, budget, cancel, shutdown, wasmtime::Error::new);
        store
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
