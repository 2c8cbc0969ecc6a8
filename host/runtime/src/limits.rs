//! Resource limits of the sandbox, with the reason for each default.

use std::time::Duration;

/// Bounds applied to every guest instance.
#[derive(Clone, Debug)]
pub struct SandboxLimits {
    /// Linear memory per instance. 256 MiB holds an agent loop with a long
    /// transcript many times over, and bounds what a runaway guest can take.
    pub max_memory_bytes: usize,
    /// Table elements per table (function references); Rust guests need a few thousand.
    pub max_table_elements: usize,
    /// Instances alive at once; runs beyond it wait for a slot (never dropped).
    pub max_concurrent_instances: u32,
    /// Wall-clock budget of one instance, host calls included (a run that waits
    /// for a human drops its instance, so this bounds one stretch of work).
    pub run_deadline: Duration,
    /// Guest stdout+stderr kept per run for the logs; the rest is dropped.
    pub max_output_bytes: usize,
    /// WebAssembly stack per instance.
    pub max_wasm_stack: usize,
    /// Bytes one deployment's workspace may hold (file bytes plus a small charge
    /// per entry); a guest write past it fails with `ENOSPC`.
    pub max_workspace_bytes: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            max_memory_bytes: 256 << 20,
            max_table_elements: 20_000,
            max_concurrent_instances: 64,
            run_deadline: Duration::from_secs(15 * 60),
            max_output_bytes: 64 << 10,
            max_wasm_stack: 1 << 20,
            max_workspace_bytes: 1 << 30,
        }
    }
}

/// Store limits that remember a denied memory growth, so a guest killed by its
/// allocator's abort is reported as "over its memory limit" rather than a bare trap.
#[derive(Default)]
pub struct TrackedLimits {
    pub(crate) inner: wasmtime::StoreLimits,
    pub(crate) memory_denied: bool,
}

impl TrackedLimits {
    /// Limits of one instance (a run, a plugin call, a command): `memory_bytes` of
    /// linear memory, `table_elements` per table, and counts no component needs more of.
    pub(crate) fn bounded(memory_bytes: usize, table_elements: usize) -> TrackedLimits {
        TrackedLimits {
            inner: wasmtime::StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .table_elements(table_elements)
                .instances(64)
                .tables(64)
                .memories(8)
                .build(),
            memory_denied: false,
        }
    }
}

impl wasmtime::ResourceLimiter for TrackedLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = self.inner.memory_growing(current, desired, maximum)?;
        if !ok {
            self.memory_denied = true;
        }
        Ok(ok)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
