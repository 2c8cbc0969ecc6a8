//! Code tools: a `python` call and a `shell` pipeline, each against the native
//! process spawn it replaces, measured side by side in one run; the cold compile and
//! the first call after a start; and the memory one concurrent python call costs.
//!
//! `cargo bench -p hermes-tests --bench code_tools`
//!
//! Timed through the library API (`hermes_sandbox::Sandbox::call`): argument
//! parsing, the shell's parse and expansion, a fresh instance per program from the
//! cached pre-link, the program itself, capped pipes and the rendered result.

use std::sync::Arc;
use std::time::Instant;

use hermes_runtime::{Runtime, SandboxLimits};
use hermes_sandbox::{CallContext, Sandbox, SandboxConfig};
use hermes_tests::stats::{pct, rss_kib, sorted};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const CALLS: usize = 100;
const CONCURRENT: usize = 8;

fn sandbox(cache: &std::path::Path) -> Sandbox {
    let runtime = Runtime::new(SandboxLimits::default(), cache.to_path_buf()).expect("runtime");
    Sandbox::new(Arc::new(runtime), SandboxConfig::default())
}

async fn call(s: &Sandbox, ws: &std::path::Path, tool: &str, args: serde_json::Value) -> (f64, String) {
    let cx = CallContext { workspace: ws, cancel: CancellationToken::new(), shutdown: CancellationToken::new() };
    let t = Instant::now();
    let out = s.call(tool, &args.to_string(), cx).await;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(!out.is_error, "{tool} failed: {}", out.content);
    (ms, out.content)
}

fn native(program: &str, args: &[&str]) -> f64 {
    let t = Instant::now();
    let out = std::process::Command::new(program).args(args).output().expect("native process");
    assert!(out.status.success());
    t.elapsed().as_secs_f64() * 1e3
}

fn row(name: &str, v: Vec<f64>) -> f64 {
    let v = sorted(v);
    let median = pct(&v, 0.5);
    println!("{name:<44} {median:>9.2} {:>9.2}", pct(&v, 0.99));
    median
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cache = tempfile::tempdir().expect("cache dir");
    let ws = tempfile::tempdir().expect("workspace");
    let py = json!({"code": "print(1+1)"});
    let sh = json!({"command": "echo hi | wc -c"});

    // Cold: an empty compiled-code cache (a fresh install's first start).
    let cold = sandbox(cache.path());
    let t = Instant::now();
    cold.warm().await.expect("programs compile");
    let compile_s = t.elapsed().as_secs_f64();
    drop(cold);
    // A restart: programs come from the cache; the first call loads them.
    let started = sandbox(cache.path());
    let (first_py, out) = call(&started, ws.path(), "python", py.clone()).await;
    assert_eq!(out, "2");
    let (first_sh, out) = call(&started, ws.path(), "shell", sh.clone()).await;
    assert_eq!(out.trim(), "3");

    println!("\n{:<44} {:>9} {:>9}", "per call (ms)", "median", "p99");
    let mut v = Vec::new();
    for _ in 0..CALLS {
        v.push(call(&started, ws.path(), "python", py.clone()).await.0);
    }
    let py_warm = row("python print(1+1), sandboxed, warm", v);
    let py_native = row(
        "python3 -c 'print(1+1)', native spawn",
        (0..CALLS).map(|_| native("python3", &["-c", "print(1+1)"])).collect(),
    );
    let mut v = Vec::new();
    for _ in 0..CALLS {
        v.push(call(&started, ws.path(), "shell", sh.clone()).await.0);
    }
    let sh_warm = row("shell `echo hi | wc -c`, sandboxed, warm", v);
    let sh_native = row(
        "sh -c 'echo hi | wc -c', native spawn",
        (0..CALLS).map(|_| native("sh", &["-c", "echo hi | wc -c"])).collect(),
    );

    // Memory: CONCURRENT python calls alive at once (each sleeping), resident set
    // size above the idle process, per call.
    let idle = rss_kib();
    let sleeper =
        json!({"code": "import time\nrows = [i * i for i in range(10000)]\ntime.sleep(1.5)\nprint(len(rows))"});
    let calls = (0..CONCURRENT).map(|_| call(&started, ws.path(), "python", sleeper.clone()));
    let probe = async {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        rss_kib()
    };
    let (_, busy) = tokio::join!(futures::future::join_all(calls), probe);
    let per_call_mib = busy.saturating_sub(idle) as f64 / 1024.0 / CONCURRENT as f64;

    println!("\n{:<44} {:>9}", "figure", "value");
    println!("{:<44} {:>8.1}s", "cold compile of all programs (empty cache)", compile_s);
    println!("{:<44} {:>7.1}ms", "first python call after a start", first_py);
    println!("{:<44} {:>7.1}ms", "first shell call after a start", first_sh);
    println!("{:<44} {:>8.2}×", "python: native spawn / sandboxed warm", py_native / py_warm);
    println!("{:<44} {:>8.2}×", "shell: native spawn / sandboxed warm", sh_native / sh_warm);
    println!("{:<44} {:>6.1}MiB", &format!("memory per concurrent python call ({CONCURRENT})"), per_call_mib);
}
