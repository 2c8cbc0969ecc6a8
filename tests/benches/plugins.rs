//! Plugins: tool-call overhead from inside the sandbox (guest → host → a fresh
//! plugin instance → back), upload → ready (validate + compile) cold and cached, and
//! the memory an idle attached plugin costs.
//!
//! `cargo bench -p hermes-tests --bench plugins`
//!
//! The call is timed by the test harness itself, around each `mcp.call-tool` of the
//! test plugin's `echo` (whose own work is one `format!`), so the figure is the whole
//! crossing: bounds checks, policy, a store and instance from the cached pre-link,
//! the call, the output cap and scrubbing.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use hermes_host::plugins::{PluginInfo, Upload};
use hermes_host::{DEFAULT_ACCOUNT, DeploymentSpec, Host, RunStatus, ThreadTarget};
use hermes_tests::guests;
use hermes_tests::mock_llm::MockLlm;
use hermes_tests::stats::{pct, rss_kib, sorted};
use serde_json::json;

/// Calls per round; rounds; calls discarded per round as warm-up.
const CALLS: usize = 400;
const ROUNDS: usize = 5;
const WARMUP: usize = 20;
/// Idle deployments attaching the plugin, for the memory figure.
const IDLE: usize = 200;

async fn host(data: &Path, cache: &Path, llm: &MockLlm) -> Host {
    let env = HashMap::from([
        ("OPENAI_API_KEY".to_string(), "sk-bench".to_string()),
        ("OPENAI_BASE_URL".to_string(), llm.openai_base_url()),
        ("HERMES_CACHE_DIR".to_string(), cache.display().to_string()),
    ]);
    let harness = std::fs::read(guests::TEST_HARNESS).expect("test harness");
    Host::builder(data).env(env).harness("bench", harness).build().await.expect("host")
}

async fn upload(host: &Host, name: &str, wasm: &str) -> (PluginInfo, f64) {
    let bytes = std::fs::read(wasm).expect("plugin");
    let t = Instant::now();
    let info = host
        .upload_plugin(DEFAULT_ACCOUNT, Upload { wasm: bytes, name: Some(name.into()), manifest: None })
        .await
        .expect("upload");
    (info, t.elapsed().as_secs_f64() * 1000.0)
}

fn spec(prompt: &str, runtime: &str, plugin_id: &str) -> DeploymentSpec {
    serde_json::from_value(json!({
        "customer_id": "cus_bench", "name": "bench", "model": "openai/gpt-bench", "runtime": runtime,
        "system_prompt": prompt, "features": {"memory": false},
        "plugins": [{"plugin_id": plugin_id, "tools": ["echo"]}],
    }))
    .expect("spec")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let llm = MockLlm::start().await;
        let dir = tempfile::tempdir().expect("tmp");

        // Upload → ready: a cold compile per fresh cache, then the same bytes again.
        let (mut cold, mut cached, mut restarted) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..3 {
            let cache = dir.path().join(format!("cache-{round}"));
            let data = dir.path().join(format!("data-{round}"));
            let h = host(&data, &cache, &llm).await;
            cold.push(upload(&h, "text", guests::EXAMPLE_PLUGIN).await.1);
            for _ in 0..5 {
                cached.push(upload(&h, "text", guests::EXAMPLE_PLUGIN).await.1);
            }
            h.shutdown().await;
            // A new process on the same cache: compiled code from disk, no pre-link yet.
            let h = host(&dir.path().join(format!("data-{round}-b")), &cache, &llm).await;
            restarted.push(upload(&h, "text", guests::EXAMPLE_PLUGIN).await.1);
            h.shutdown().await;
        }
        let size = std::fs::metadata(guests::EXAMPLE_PLUGIN).map(|m| m.len()).unwrap_or(0);
        println!("\nUpload → ready, example plugin ({} KiB), ms\n", size / 1024);
        println!("| path | median | min | max |");
        println!("|---|---|---|---|");
        for (name, v) in
            [("cold (compile)", cold), ("same bytes again", cached), ("new host, compiled cache on disk", restarted)]
        {
            let v = sorted(v);
            println!("| {name} | {:.1} | {:.1} | {:.1} |", pct(&v, 0.5), v[0], v[v.len() - 1]);
        }

        // Tool-call overhead.
        let cache = dir.path().join("cache-calls");
        let h = host(&dir.path().join("data-calls"), &cache, &llm).await;
        let (probe, _) = upload(&h, "probe", guests::TEST_PLUGIN).await;
        let dep = h
            .create_deployment(spec(&format!("mcp-bench probe__echo {}", CALLS + WARMUP), "bench", &probe.plugin_id))
            .await
            .expect("deployment");
        let mut micros = Vec::new();
        for _ in 0..ROUNDS {
            let ticket = h.send_message(&dep.deployment_id, "go", ThreadTarget::Default).await.expect("send");
            let run = h.wait_for_run(&ticket.run_id).await.expect("run");
            assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
            let round: Vec<u64> = serde_json::from_str(run.output.as_deref().unwrap_or("[]")).expect("timings");
            micros.extend(round.into_iter().skip(WARMUP).map(|u| u as f64));
        }
        let v = sorted(micros);
        println!(
            "\nPlugin tool call from inside the sandbox, µs ({ROUNDS} runs × {CALLS} calls, fresh instance each)\n"
        );
        println!("| median | p90 | p99 | goal (median) |");
        println!("|---|---|---|---|");
        println!("| {:.0} | {:.0} | {:.0} | ≤ 100 |", pct(&v, 0.5), pct(&v, 0.9), pct(&v, 0.99));

        // Memory: idle attachments hold nothing in memory; the first call pre-links once.
        let before = rss_kib();
        let mut deps = Vec::new();
        for _ in 0..IDLE {
            let d = h.create_deployment(spec("call probe__echo {\"text\":\"m\"}", "bench", &probe.plugin_id)).await;
            deps.push(d.expect("deployment").deployment_id);
        }
        let idle = rss_kib();
        for d in deps.iter().take(20) {
            let ticket = h.send_message(d, "go", ThreadTarget::Default).await.expect("send");
            let run = h.wait_for_run(&ticket.run_id).await.expect("run");
            assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
        }
        let called = rss_kib();
        let compiled: u64 = std::fs::read_dir(&cache)
            .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).max().unwrap_or(0))
            .unwrap_or(0);
        println!("\nMemory, RSS KiB (the plugin already pre-linked by the calls above)\n");
        println!("| step | RSS | Δ | per deployment |");
        println!("|---|---|---|---|");
        println!("| before | {before} | | |");
        println!(
            "| {IDLE} deployments attach it, idle | {idle} | {} | {:.1} |",
            idle as i64 - before as i64,
            (idle as f64 - before as f64) / IDLE as f64
        );
        println!("| 20 of them call it once | {called} | {} | |", called as i64 - idle as i64);
        println!("\n(largest compiled component in the cache: {} KiB; shared by every deployment)", compiled / 1024);
        h.shutdown().await;
    });
}
