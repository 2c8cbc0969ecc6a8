//! WASI command components (`wasi:cli/command`): the sandbox's programs (coreutils,
//! CPython, the shell's helpers). Each run is a fresh instance from a cached pre-link
//! with its own arguments, environment, stdin, capped stdout/stderr, memory limit and
//! deadline, and no capability beyond the one directory it is given as `/workspace`:
//! no sockets, no name lookups, no host paths.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wasmtime::Store;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::interrupt::Stopped as Stop;
use crate::limits::TrackedLimits;
use crate::{CappedOutput, Runtime, RuntimeError, cache};

/// The guest path the workspace is preopened at.
pub const WORKSPACE: &str = "/workspace";

/// A compiled, pre-linked command component, cheap to clone.
#[derive(Clone)]
pub struct Program {
    pre: CommandPre<CommandState>,
    hash: Arc<str>,
}

impl Program {
    /// The component's content hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// Bounds of one command run.
#[derive(Clone, Debug)]
pub struct CommandLimits {
    /// Linear memory of the instance.
    pub memory_bytes: usize,
    /// Wall-clock budget.
    pub deadline: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is counted and dropped.
    pub output_bytes: usize,
}

/// One command to run.
pub struct Invocation<'a> {
    /// `argv`, the program's name first.
    pub args: &'a [String],
    /// The whole environment the program sees.
    pub env: &'a [(String, String)],
    /// Working directory inside the sandbox (`/workspace` or below).
    pub cwd: &'a str,
    /// What the program reads on stdin.
    pub stdin: Vec<u8>,
    /// Send stderr to the stdout sink (the shell's `2>&1`), keeping their order.
    pub merge_stderr: bool,
    /// The host directory preopened read-write as [`WORKSPACE`].
    pub workspace: &'a Path,
    /// Bounds.
    pub limits: &'a CommandLimits,
    /// Stops the program early: the run was cancelled.
    pub cancel: CancellationToken,
    /// Stops the program early: the host shuts down.
    pub shutdown: CancellationToken,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited (returning from `run` is 0, a failed `run` is 1).
    Exit(i32),
    /// The host stopped it: deadline, memory, cancellation or a trap (the reason).
    Stopped(String),
}

/// What a command printed and how it ended.
#[derive(Clone, Debug)]
pub struct CommandOutput {
    /// Stdout as kept (and stderr too when merged).
    pub stdout: Vec<u8>,
    /// Stderr as kept.
    pub stderr: Vec<u8>,
    /// Bytes dropped past the cap, stdout and stderr together.
    pub dropped: usize,
    /// How it ended.
    pub ended: Ended,
    /// The workspace's quota in bytes, when it refused a write during the command.
    pub workspace_full: Option<u64>,
}

impl CommandOutput {
    /// The exit status a shell sees: the code, or 137/124-style failure for a stop.
    pub fn status(&self) -> i32 {
        match &self.ended {
            Ended::Exit(code) => *code,
            Ended::Stopped(_) => 128 + 9,
        }
    }
}

/// Store data of one command instance.
pub struct CommandState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: TrackedLimits,
    quota: Arc<crate::WorkspaceQuota>,
}

impl crate::quota::HasQuota for CommandState {
    fn quota(&self) -> Option<Arc<crate::WorkspaceQuota>> {
        Some(self.quota.clone())
    }
}

impl WasiView for CommandState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The linker commands get: WASI only.
pub(crate) fn linker(engine: &wasmtime::Engine) -> Result<Linker<CommandState>, RuntimeError> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
    crate::quota::add_to_linker(&mut linker).map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
    Ok(linker)
}

impl Runtime {
    /// Compiles (or loads from the disk cache) and pre-links a command component
    /// embedded in the binary, whose content hash (`sha256`, hex) is known. Compiling
    /// runs on a blocking thread; a large component (CPython) takes seconds the first
    /// time and milliseconds from the cache.
    pub async fn load_program(&self, wasm: &'static [u8], sha256: &str) -> Result<Program, RuntimeError> {
        let hash: Arc<str> = sha256.into();
        let engine = self.engine.clone();
        let dir = self.cache_dir.clone();
        let key = hash.clone();
        let (component, _) =
            tokio::task::spawn_blocking(move || cache::load_or_compile_keyed(&engine, &dir, wasm, &key))
                .await
                .map_err(|e| RuntimeError::Compile(e.to_string()))??;
        let pre = self
            .commands
            .instantiate_pre(&component)
            .and_then(CommandPre::new)
            .map_err(|e| RuntimeError::Link(format!("the component is not a WASI command: {e:#}")))?;
        Ok(Program { pre, hash })
    }

    /// Runs one command to its end in a fresh instance. Never fails: a program the
    /// host stops is an [`Ended::Stopped`] with the reason.
    pub async fn run_program(&self, program: &Program, call: Invocation<'_>) -> CommandOutput {
        let limits = call.limits;
        let stdout = CappedOutput::new(limits.output_bytes);
        let stderr = if call.merge_stderr { stdout.clone() } else { CappedOutput::new(limits.output_bytes) };
        let quota = self.workspace_quota(call.workspace).await;
        let refusals = quota.refusals();
        let finish = |ended: Ended| {
            let (out, out_dropped) = stdout.bytes();
            let (err, err_dropped) = if call.merge_stderr { (Vec::new(), 0) } else { stderr.bytes() };
            let workspace_full = (quota.refusals() > refusals).then(|| quota.limit());
            CommandOutput { stdout: out, stderr: err, dropped: out_dropped + err_dropped, ended, workspace_full }
        };
        let mut b = WasiCtxBuilder::new();
        b.stdin(MemoryInputPipe::new(call.stdin))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .args(call.args)
            .envs(call.env)
            .initial_cwd(call.cwd)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(64 << 10);
        if let Err(e) = preopen(&mut b, call.workspace, call.cwd) {
            return finish(Ended::Stopped(format!("the workspace is unavailable: {e}")));
        }
        let tracked = TrackedLimits::bounded(limits.memory_bytes, self.limits.max_table_elements);
        let state =
            CommandState { wasi: b.build(), table: ResourceTable::new(), limits: tracked, quota: quota.clone() };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let deadline = limits.deadline;
        let (cancel, shutdown) = (call.cancel.clone(), call.shutdown.clone());
        crate::interrupt::arm(&mut store, deadline, cancel, shutdown, |i| wasmtime::Error::new(Stop::from(i)));
        let ran = async {
            let command = program.pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        // The epoch callback stops guest code; the timeout and the token also bound
        // time spent blocked in a host call (a WASI sleep, a read).
        let ran = tokio::select! {
            r = tokio::time::timeout(deadline + Duration::from_millis(250), ran) => Ok(r),
            _ = call.cancel.cancelled() => Err(Stop::Cancelled),
            _ = call.shutdown.cancelled() => Err(Stop::Shutdown),
        };
        let ended = match ran {
            Err(stop) => Ended::Stopped(stop.to_string()),
            Ok(Err(_)) => Ended::Stopped(Stop::Deadline(deadline).to_string()),
            Ok(Ok(Ok(Ok(())))) => Ended::Exit(0),
            Ok(Ok(Ok(Err(())))) => Ended::Exit(1),
            Ok(Ok(Err(trap))) => match trap.downcast_ref::<I32Exit>() {
                Some(exit) => Ended::Exit(exit.0),
                None => Ended::Stopped(describe(&trap, &store, limits)),
            },
        };
        finish(ended)
    }
}

/// Deepest working directory whose ancestors get `..` preopens.
const MAX_CWD_DEPTH: usize = 16;

/// Preopens the workspace as [`WORKSPACE`], and the working directory as `.` with
/// each ancestor up to the workspace as `..`, `../..`, …: wasi-libc keeps no
/// working directory of its own (a program starts at `/`), so this is how a
/// relative path, `..` included, resolves from `cwd` for any program.
///
/// Every directory is opened through cap-std under the workspace (a symlink can
/// never lead outside it) and handed to WASI as that open directory
/// (`/proc/self/fd/N`), so nothing can swap a path component in between.
fn preopen(b: &mut WasiCtxBuilder, workspace: &Path, cwd: &str) -> Result<(), String> {
    let rel = cwd
        .strip_prefix(WORKSPACE)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .ok_or_else(|| format!("the working directory {cwd:?} is outside {WORKSPACE}"))?;
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(format!("the working directory {cwd:?} is not normalised"));
    }
    let root = cap_std::fs::Dir::open_ambient_dir(workspace, cap_std::ambient_authority())
        .map_err(|e| format!("{}: {e}", workspace.display()))?;
    preopen_dir(b, &root, workspace, WORKSPACE)?;
    for up in 0..=parts.len().min(MAX_CWD_DEPTH) {
        let sub = parts[..parts.len() - up].join("/");
        let guest = if up == 0 { ".".to_string() } else { vec![".."; up].join("/") };
        if sub.is_empty() {
            preopen_dir(b, &root, workspace, &guest)?;
        } else {
            let dir = root.open_dir(&sub).map_err(|e| format!("{cwd}: {e}"))?;
            preopen_dir(b, &dir, &workspace.join(&sub), &guest)?;
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn preopen_dir(b: &mut WasiCtxBuilder, dir: &cap_std::fs::Dir, _host: &Path, guest: &str) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
    b.preopened_dir(&path, guest, FsPerms::ReadWrite).map(|_| ()).map_err(|e| format!("{guest}: {e:#}"))
}

/// Elsewhere the directory checked through cap-std is preopened by its path (a
/// concurrent run of the same deployment could swap a component in between).
#[cfg(not(target_os = "linux"))]
fn preopen_dir(b: &mut WasiCtxBuilder, _dir: &cap_std::fs::Dir, host: &Path, guest: &str) -> Result<(), String> {
    b.preopened_dir(host, guest, FsPerms::ReadWrite).map(|_| ()).map_err(|e| format!("{guest}: {e:#}"))
}

/// A trap phrased for the model: stopped by the host, out of memory, or the guest's own.
fn describe(trap: &wasmtime::Error, store: &Store<CommandState>, limits: &CommandLimits) -> String {
    if let Some(stop) = trap.downcast_ref::<Stop>() {
        return stop.to_string();
    }
    if store.data().limits.memory_denied {
        return format!("it exceeded its memory limit of {} MiB", limits.memory_bytes >> 20);
    }
    match trap.downcast_ref::<wasmtime::Trap>() {
        Some(t) => format!("it trapped: {t}"),
        None => format!("it failed: {trap}"),
    }
}
