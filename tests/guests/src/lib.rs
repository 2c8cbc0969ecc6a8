//! A deliberately misbehaving harness for the sandbox tests.
//!
//! The first word of the deployment's system prompt picks the behaviour:
//!
//! | word | does |
//! |---|---|
//! | `loop` | spins forever on the CPU, no host calls (deadline / epoch interruption) |
//! | `alloc` | allocates and touches 1 MiB blocks without bound (memory limit) |
//! | `escape` | tries to leave `/workspace`; answers a JSON object `attempt → "denied: …" / "ALLOWED: …"` |
//! | `echo` | one `model.complete` with the latest user message; answers its content |
//! | `panic` | panics (a trap) |
//! | `mcp-bench <tool> <n>` | calls MCP tool `<tool>` `<n>` times; answers the JSON list of each call's µs |
//! | `sleep` | sleeps in WASI for ten minutes (cancellation must not wait for it) |
//! | `call <tool> <json>` | calls host tool `<tool>` once, ignoring every policy; answers `OK: …`, `ERROR: …` or `REFUSED: …` |

use std::collections::BTreeMap;

use hermes_guest::Message;
use hermes_guest::harness::exports::hermes::agent::agent::{DreamReport, RunContext, RunOutcome};
use hermes_guest::harness::hermes::agent::{mcp, model, threads};

/// Each escape attempt, keyed as the JSON answer names it.
pub const ESCAPE_ATTEMPTS: &[&str] =
    &["read ../outside.txt", "read /etc/passwd", "read /workspace/../x", "read /workspace/link", "list /"];

/// The test guest, as the `agent` export.
pub struct TestGuest;

impl hermes_guest::harness::exports::hermes::agent::agent::Guest for TestGuest {
    fn run(context: RunContext) -> Result<RunOutcome, String> {
        match context.system_prompt.split_whitespace().next().unwrap_or("") {
            "loop" => spin(),
            "alloc" => hoard(),
            "escape" => Ok(RunOutcome::Completed(escape())),
            "echo" => echo(),
            "panic" => panic!("the test guest panics on request"),
            "flood" => Ok(RunOutcome::Completed(flood())),
            // An answer far larger than the host keeps (8 MiB).
            "huge" => Ok(RunOutcome::Completed("x".repeat(8 << 20))),
            "mcp-bench" => mcp_bench(&context.system_prompt).map(RunOutcome::Completed),
            "call" => Ok(RunOutcome::Completed(call_once(&context.system_prompt))),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(600));
                Ok(RunOutcome::Completed("woke up".into()))
            }
            other => Err(format!(
                "unknown test behaviour `{other}`: start the system prompt with loop, alloc, escape, echo or panic"
            )),
        }
    }

    fn dream(_context: RunContext) -> Result<DreamReport, String> {
        Err("the test guest does not dream".to_string())
    }
}

hermes_guest::export_harness!(TestGuest);

/// Times `n` calls of one MCP tool from inside the sandbox (guest → host → server → back).
fn mcp_bench(prompt: &str) -> Result<String, String> {
    let mut words = prompt.split_whitespace().skip(1);
    let tool = words.next().ok_or("mcp-bench needs a tool name")?;
    let n: usize = words.next().and_then(|w| w.parse().ok()).ok_or("mcp-bench needs a call count")?;
    let mut micros = Vec::with_capacity(n);
    for i in 0..n {
        let args = serde_json::json!({"text": format!("call {i}")}).to_string();
        let started = std::time::Instant::now();
        let out = mcp::call_tool(tool, &args)?;
        micros.push(started.elapsed().as_micros() as u64);
        if out.is_error {
            return Err(format!("call {i} failed: {}", out.content));
        }
    }
    Ok(serde_json::to_string(&micros).unwrap_or_default())
}

/// One host tool call with no `tool-started`, no approval and no allowlist of its
/// own: what the host lets through is all that happens.
fn call_once(prompt: &str) -> String {
    let mut words = prompt.splitn(3, ' ').skip(1);
    let tool = words.next().unwrap_or_default();
    let args = words.next().unwrap_or("{}");
    match mcp::call_tool(tool, args) {
        Ok(out) if out.is_error => format!("ERROR: {}", out.content),
        Ok(out) => format!("OK: {}", out.content),
        Err(refusal) => format!("REFUSED: {refusal}"),
    }
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn hoard() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        // Touch every page so the memory is really committed.
        for byte in block.iter_mut().step_by(4096) {
            *byte = 1;
        }
        hoard.push(std::hint::black_box(block));
    }
}

/// Tries every escape and reports each outcome, as a JSON object.
pub fn escape() -> String {
    let mut report = BTreeMap::new();
    for attempt in ESCAPE_ATTEMPTS {
        let outcome = match *attempt {
            "list /" => std::fs::read_dir("/").map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            read => std::fs::read_to_string(read.trim_start_matches("read ")),
        };
        let shown = match outcome {
            Ok(content) => format!("ALLOWED: {}", content.chars().take(200).collect::<String>()),
            Err(e) => format!("denied: {e}"),
        };
        report.insert(attempt.to_string(), shown);
    }
    serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn echo() -> Result<RunOutcome, String> {
    let latest = threads::history(50)
        .into_iter()
        .rev()
        .find(|e| e.message.is_user())
        .map(|e| e.message.content)
        .unwrap_or_default();
    let request = model::CompletionRequest {
        system: String::new(),
        messages: vec![Message::user(latest)],
        tools: Vec::new(),
        max_tokens: None,
        stream_tokens: true,
    };
    match model::complete(&request) {
        Ok(completion) => Ok(RunOutcome::Completed(completion.content)),
        Err(e) => Err(format!("model error: {e:?}")),
    }
}

/// Appends 1 MiB messages until the host refuses; reports how many it took.
fn flood() -> String {
    let chunk = "y".repeat(1 << 20);
    for i in 0..10_000 {
        if let Err(e) = threads::append(&Message::assistant(chunk.clone())) {
            return format!("refused after {i}: {e}");
        }
    }
    "never refused".into()
}
