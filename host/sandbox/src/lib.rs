//! The code tools the host ships: `python` runs CPython (3.14, with its standard
//! library) and `shell` runs a POSIX `sh` subset whose every command is a Wasm
//! program (uutils coreutils, sed and diff, the sandbox's grep and find, and
//! `python3`). Each program run is a fresh wasmtime instance that sees only the
//! deployment's `/workspace`: no sockets, no host paths, a small fixed environment,
//! a deadline, a memory limit and capped output. State lives in the workspace.

pub mod shell;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hermes_runtime::wit::hermes::agent::types::{ToolDefinition, ToolOutput};
use hermes_runtime::{CommandLimits, Ended, Invocation, Program, Runtime};
use serde::Deserialize;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use shell::{Output, Programs, Running, Spawn};

/// An embedded program and its content hash (computed by the build script).
type Embedded = (&'static [u8], &'static str);

static COREUTILS: Embedded =
    (include_bytes!(env!("HERMES_SANDBOX_COREUTILS")), env!("HERMES_SANDBOX_COREUTILS_SHA256"));
static UTILS: Embedded = (include_bytes!(env!("HERMES_SANDBOX_UTILS")), env!("HERMES_SANDBOX_UTILS_SHA256"));
static SED: Embedded = (include_bytes!(env!("HERMES_SANDBOX_SED")), env!("HERMES_SANDBOX_SED_SHA256"));
static DIFF: Embedded = (include_bytes!(env!("HERMES_SANDBOX_DIFF")), env!("HERMES_SANDBOX_DIFF_SHA256"));
static PYTHON: Embedded = (include_bytes!(env!("HERMES_SANDBOX_PYTHON")), env!("HERMES_SANDBOX_PYTHON_SHA256"));
const COREUTILS_LIST: &str = env!("HERMES_SANDBOX_COREUTILS_LIST");
/// Commands of the sandbox's own utilities.
const UTILS_LIST: [&str; 5] = ["grep", "egrep", "find", "__glob", "__isdir"];

/// The `python` tool's name.
pub const PYTHON_TOOL: &str = "python";
/// The `shell` tool's name (the hosted product's).
pub const SHELL_TOOL: &str = "shell";
/// Both tool names.
pub const TOOLS: [&str; 2] = [PYTHON_TOOL, SHELL_TOOL];

/// Bounds of the code tools, with the reason for each default.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Time a call gets when it names none: enough for a data script, short enough
    /// that a loop the model wrote by mistake costs little.
    pub default_timeout: Duration,
    /// The most a call may ask for with `timeout_s`.
    pub max_timeout: Duration,
    /// Linear memory of one program (CPython needs ~30 MiB to start).
    pub memory_bytes: usize,
    /// Bytes of stdout and of stderr each returned to the model; the middle of a
    /// longer output is cut (its head and tail are what the model needs). Both
    /// together stay under the harness's 48 KiB, past which it would spill the
    /// result to a file and show only its head.
    pub result_bytes: usize,
    /// Bytes one program's output may carry to the next stage of a pipeline.
    pub pipe_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            memory_bytes: 256 << 20,
            result_bytes: 20 << 10,
            pipe_bytes: 16 << 20,
        }
    }
}

struct Loaded {
    coreutils: Program,
    utils: Program,
    sed: Program,
    diff: Program,
    python: Program,
}

/// The code tools: programs compiled on first use (from the disk cache after the
/// first start), then one fresh instance per command.
pub struct Sandbox {
    runtime: Arc<Runtime>,
    config: SandboxConfig,
    loaded: OnceCell<Result<Loaded, String>>,
    /// Made once: every model turn offers them.
    definitions: Vec<ToolDefinition>,
}

/// The arguments of `python`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PythonArgs {
    code: String,
    #[serde(default)]
    timeout_s: Option<f64>,
}

/// The arguments of `shell`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShellArgs {
    command: String,
    #[serde(default)]
    timeout_s: Option<f64>,
}

/// Where a call runs and what stops it.
pub struct CallContext<'a> {
    /// The deployment's workspace directory (preopened as `/workspace`).
    pub workspace: &'a Path,
    /// Cancelled with the run.
    pub cancel: CancellationToken,
    /// Cancelled when the host shuts down.
    pub shutdown: CancellationToken,
}

impl Sandbox {
    /// The code tools over `runtime`.
    pub fn new(runtime: Arc<Runtime>, config: SandboxConfig) -> Sandbox {
        let definitions = definitions(&config);
        Sandbox { runtime, config, loaded: OnceCell::new(), definitions }
    }

    /// The tools' definitions, as offered to the model.
    pub fn definitions(&self) -> &[ToolDefinition] {
        &self.definitions
    }

    /// Compiles the programs now (from the disk cache after the first start), so
    /// the first call does not wait for it.
    pub async fn warm(&self) -> Result<(), String> {
        self.programs().await.map(|_| ())
    }

    async fn programs(&self) -> Result<&Loaded, String> {
        let loaded = self
            .loaded
            .get_or_init(|| async {
                let load = |(wasm, hash): Embedded| {
                    let runtime = self.runtime.clone();
                    async move { runtime.load_program(wasm, hash).await.map_err(|e| e.to_string()) }
                };
                let started = std::time::Instant::now();
                let loaded = Loaded {
                    coreutils: load(COREUTILS).await?,
                    utils: load(UTILS).await?,
                    sed: load(SED).await?,
                    diff: load(DIFF).await?,
                    python: load(PYTHON).await?,
                };
                tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "sandbox programs ready");
                Ok(loaded)
            })
            .await;
        loaded.as_ref().map_err(|e| format!("the sandbox is unavailable on this host: {e}"))
    }

    /// Runs one call of `python` or `shell` (`tool` is one of [`TOOLS`]).
    pub async fn call(&self, tool: &str, arguments: &str, cx: CallContext<'_>) -> ToolOutput {
        let error = |content: String| ToolOutput { content, is_error: true };
        let programs = match self.programs().await {
            Ok(p) => p,
            Err(e) => return error(e),
        };
        let (script, timeout) = match tool {
            PYTHON_TOOL => match serde_json::from_str::<PythonArgs>(arguments) {
                Ok(a) => (Some(a.code), a.timeout_s),
                Err(e) => return error(format!("python takes {{\"code\": string, \"timeout_s\"?: number}}: {e}")),
            },
            SHELL_TOOL => match serde_json::from_str::<ShellArgs>(arguments) {
                Ok(a) => (Some(a.command), a.timeout_s),
                Err(e) => return error(format!("shell takes {{\"command\": string, \"timeout_s\"?: number}}: {e}")),
            },
            other => return error(format!("the sandbox has no tool `{other}`")),
        };
        let script = script.unwrap_or_default();
        let deadline = match timeout {
            None => self.config.default_timeout,
            Some(s) if s.is_finite() && s > 0.0 => {
                Duration::from_secs_f64(s.min(self.config.max_timeout.as_secs_f64()))
            }
            Some(s) => return error(format!("timeout_s must be a positive number of seconds, not {s}")),
        };
        let bound =
            Bound { sandbox: self, programs, workspace: cx.workspace, cancel: cx.cancel, shutdown: cx.shutdown };
        let env = fixed_env();
        if tool == PYTHON_TOOL {
            let argv = vec!["python3".to_string(), "-c".to_string(), script];
            let out = bound
                .spawn(Spawn {
                    argv: &argv,
                    env: &env,
                    cwd: shell::HOME,
                    stdin: Vec::new(),
                    merge_stderr: false,
                    deadline,
                })
                .await;
            return render(&out.stdout, &out.stderr, out.status, out.stopped.as_deref(), self.config.result_bytes);
        }
        if script.len() > shell::MAX_SCRIPT {
            return error(format!("the command is {} bytes long; at most {}", script.len(), shell::MAX_SCRIPT));
        }
        let out = shell::run(&bound, &script, &env, deadline, self.config.pipe_bytes).await;
        render(&out.stdout, &out.stderr, out.status, out.stopped.as_deref(), self.config.result_bytes)
    }
}

/// The tools' definitions for `config`'s timeouts.
fn definitions(config: &SandboxConfig) -> Vec<ToolDefinition> {
    let max = config.max_timeout.as_secs();
    let default = config.default_timeout.as_secs();
    vec![
        ToolDefinition {
            name: PYTHON_TOOL.into(),
            description: format!(
                "Run Python 3.14 code (standard library only) in a sandbox whose working directory is \
                 /workspace (your files; nothing else, no network). Print what you need: you get stdout, \
                 stderr and the traceback if it raised. A fresh interpreter each call: keep state in files. \
                 Times out after {default}s unless timeout_s says otherwise (at most {max}s)."
            ),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "The Python program."},
                    "timeout_s": {"type": "number", "description": format!("Seconds before it is stopped (default {default}, at most {max}).")}
                },
                "required": ["code"]
            })
            .to_string(),
        },
        ToolDefinition {
            name: SHELL_TOOL.into(),
            description: format!(
                "Run a shell command in a sandbox over /workspace (your files; no network). A POSIX sh \
                 subset: pipes, < > >> 2> 2>&1, && || ;, quotes, $VAR, $(…), globs, cd. Commands: coreutils \
                 (ls cat head tail wc sort uniq cut tr mkdir rm cp mv touch echo printf date base64 \
                 sha256sum …), grep, sed, find, diff, env, and python3 (FILE.py ARGS, -c CODE). `help` lists \
                 them all. You get stdout, stderr and the exit code. Times out after {default}s unless \
                 timeout_s says otherwise (at most {max}s)."
            ),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command line."},
                    "timeout_s": {"type": "number", "description": format!("Seconds before it is stopped (default {default}, at most {max}).")}
                },
                "required": ["command"]
            })
            .to_string(),
        },
    ]
}

/// The whole environment a program starts with (plus the shell's variables).
fn fixed_env() -> Vec<(String, String)> {
    [
        ("HOME", shell::HOME),
        ("PATH", "/bin"),
        ("LANG", "C.UTF-8"),
        ("TZ", "UTC"),
        ("USER", "agent"),
        ("SHELL", "/bin/sh"),
        ("TERM", "dumb"),
        ("PYTHONIOENCODING", "utf-8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The sandbox's programs bound to one call's workspace.
struct Bound<'a> {
    sandbox: &'a Sandbox,
    programs: &'a Loaded,
    workspace: &'a Path,
    cancel: CancellationToken,
    shutdown: CancellationToken,
}

impl Bound<'_> {
    fn program(&self, name: &str) -> Option<&Program> {
        let p = self.programs;
        match name {
            "python3" | "python" => Some(&p.python),
            "sed" => Some(&p.sed),
            "diff" | "cmp" => Some(&p.diff),
            n if UTILS_LIST.contains(&n) => Some(&p.utils),
            n if COREUTILS_LIST.split(',').any(|c| c == n) || n == "[" => Some(&p.coreutils),
            _ => None,
        }
    }
}

impl Programs for Bound<'_> {
    fn has(&self, name: &str) -> bool {
        self.program(name).is_some()
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = COREUTILS_LIST.split(',').map(str::to_string).collect();
        names.extend(["python3", "python", "sed", "diff", "cmp", "grep", "egrep", "find"].map(String::from));
        names
    }

    fn spawn<'a>(&'a self, spawn: Spawn<'a>) -> Running<'a> {
        Box::pin(async move {
            let Some(program) = self.program(&spawn.argv[0]) else {
                return Output { status: 127, ..Output::default() };
            };
            let mut argv = spawn.argv.to_vec();
            if program.hash() == self.programs.diff.hash() {
                // diffutils dispatches on its first argument.
                argv.insert(0, "diffutils".into());
            }
            let limits = CommandLimits {
                memory_bytes: self.sandbox.config.memory_bytes,
                deadline: spawn.deadline,
                output_bytes: self.sandbox.config.pipe_bytes,
            };
            let out = self
                .sandbox
                .runtime
                .run_program(
                    program,
                    Invocation {
                        args: &argv,
                        env: spawn.env,
                        cwd: spawn.cwd,
                        stdin: spawn.stdin,
                        merge_stderr: spawn.merge_stderr,
                        workspace: self.workspace,
                        limits: &limits,
                        cancel: self.cancel.clone(),
                        shutdown: self.shutdown.clone(),
                    },
                )
                .await;
            let status = out.status();
            let mut stderr = out.stderr;
            if out.dropped > 0 {
                stderr.extend(
                    format!(
                        "{}: output cut: {} bytes past the {} MiB limit were dropped\n",
                        argv[0],
                        out.dropped,
                        limits.output_bytes >> 20
                    )
                    .into_bytes(),
                );
            }
            let workspace_full = out.workspace_full.map(|limit| {
                format!("the workspace is full (its quota is {}); delete files to make room", size(limit))
            });
            if let Some(why) = &workspace_full {
                stderr.extend(format!("{}: a write was refused: {why}\n", argv[0]).into_bytes());
            }
            let stopped = match out.ended {
                Ended::Exit(_) => None,
                Ended::Stopped(why) => Some(why),
            };
            Output { stdout: out.stdout, stderr, status, stopped, workspace_full }
        })
    }
}

/// One call's result for the model: stdout, then stderr and the status when there
/// is something to say. `is_error` when the status is not 0 or the host stopped it.
fn render(stdout: &[u8], stderr: &[u8], status: i32, stopped: Option<&str>, cap: usize) -> ToolOutput {
    let mut content = String::new();
    content.push_str(&clip(stdout, cap));
    if !stderr.is_empty() {
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        content.push_str("[stderr]\n");
        content.push_str(&clip(stderr, cap));
    }
    if !content.is_empty() && !content.ends_with('\n') {
        content.push('\n');
    }
    match stopped {
        Some(why) => content.push_str(&format!("[stopped: {why}]")),
        None if status != 0 => content.push_str(&format!("[exit code {status}]")),
        None if content.is_empty() => content.push_str("(no output)"),
        None => {}
    }
    ToolOutput { content: content.trim_end().to_string(), is_error: status != 0 || stopped.is_some() }
}

/// A byte count for people: MiB from 1 MiB up, else KiB.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 { format!("{} MiB", bytes >> 20) } else { format!("{} KiB", bytes >> 10) }
}

/// `bytes` as text, the middle cut when longer than `cap` (head ¾, tail ¼).
fn clip(bytes: &[u8], cap: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= cap {
        return text.into_owned();
    }
    let head = floor_boundary(&text, cap * 3 / 4);
    let tail = ceil_boundary(&text, text.len() - cap / 4);
    format!("{}\n[… {} bytes cut …]\n{}", &text[..head], tail - head, &text[tail..])
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::{clip, render};

    #[test]
    fn long_output_keeps_its_head_and_tail() {
        let text = format!("{}{}", "a".repeat(1000), "z".repeat(1000));
        let out = clip(text.as_bytes(), 400);
        assert!(out.starts_with(&"a".repeat(300)) && out.ends_with(&"z".repeat(100)), "{out}");
        assert!(out.contains("[… 1600 bytes cut …]"), "{out}");
        assert_eq!(clip("é".repeat(10).as_bytes(), 5).chars().filter(|c| *c == 'é').count(), 1);
    }

    #[test]
    fn status_and_stderr_are_said_only_when_there_is_something_to_say() {
        assert_eq!(render(b"2\n", b"", 0, None, 100).content, "2");
        assert_eq!(render(b"", b"", 0, None, 100).content, "(no output)");
        let failed = render(b"", b"boom\n", 1, None, 100);
        assert!(failed.is_error && failed.content == "[stderr]\nboom\n[exit code 1]", "{}", failed.content);
        let stopped = render(b"x", b"", 124, Some("it ran longer than its limit of 1s"), 100);
        assert_eq!(stopped.content, "x\n[stopped: it ran longer than its limit of 1s]");
    }
}
