//! Spine benchmarks: prints a table of medians and p99s.
//!
//! `cargo bench -p hermes-tests --bench spine`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hermes_host::RunStatus;
use hermes_host::{DeploymentSpec, Host, ThreadTarget};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::json;

fn env_for(llm: &MockLlm) -> HashMap<String, String> {
    HashMap::from([("OPENAI_API_KEY".into(), "sk-bench".into()), ("OPENAI_BASE_URL".into(), llm.openai_base_url())])
}

fn spec(prompt: &str) -> DeploymentSpec {
    serde_json::from_value(json!({
        "customer_id": "cus_bench", "name": "bench", "model": "openai/instant", "system_prompt": prompt,
        "features": {"memory": false}
    }))
    .expect("spec")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v
}

struct Row(String, String, String);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut rows = Vec::new();
    rt.block_on(async {
        let llm = MockLlm::start().await;
        llm.set_default(Reply::text("ok"));

        // Host start to first run: cold compile cache vs warm.
        let dir = tempfile::tempdir().expect("tmp");
        for label in ["cold", "warm"] {
            let data = dir.path().join(label);
            if label == "warm" {
                // Same component cache as the cold run left behind; fresh database.
                std::fs::create_dir_all(data.join("cache")).expect("mkdir");
                copy_dir(&dir.path().join("cold").join("cache"), &data.join("cache"));
            }
            let t = Instant::now();
            let host = Host::builder(&data)
                .env(env_for(&llm))
                .config(hermes_host::HostConfig {
                    tenants: hermes_host::TenantLimits::unlimited(),
                    ..Default::default()
                })
                .build()
                .await
                .expect("host");
            let dep = host.create_deployment(spec("bench")).await.expect("deployment");
            let ticket = host.send_message(&dep.deployment_id, "hi", ThreadTarget::Default).await.expect("send");
            let run = host.wait_for_run(&ticket.run_id).await.expect("run");
            assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            rows.push(Row(
                format!("host start → first run completed ({label} cache)"),
                format!("{ms:.1} ms"),
                "goal ≤ 300 ms warm".into(),
            ));
            host.shutdown().await;
        }

        // Per-turn host overhead and instantiation, sequential turns with an instant model.
        let host = Host::builder(dir.path().join("turns"))
            .env(env_for(&llm))
            .config(hermes_host::HostConfig { tenants: hermes_host::TenantLimits::unlimited(), ..Default::default() })
            .build()
            .await
            .expect("host");
        let dep = host.create_deployment(spec("bench")).await.expect("deployment");
        let n = 300;
        let mut turn = Vec::with_capacity(n);
        let mut inst = Vec::with_capacity(n);
        let mut model = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let ticket = host.send_message(&dep.deployment_id, "hi", ThreadTarget::New).await.expect("send");
            let run = host.wait_for_run(&ticket.run_id).await.expect("run");
            turn.push(t.elapsed().as_secs_f64() * 1e3);
            if let Some(us) = run.instantiate_us {
                inst.push(us as f64);
            }
        }
        // The model's share of a turn: the same streamed request made directly.
        let http = reqwest::Client::new();
        for _ in 0..n {
            let t = Instant::now();
            let body = http
                .post(format!("{}/chat/completions", llm.openai_base_url()))
                .bearer_auth("sk-bench")
                .json(&json!({"model": "instant", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .expect("mock")
                .bytes()
                .await
                .expect("body");
            std::hint::black_box(body);
            model.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (turn, inst, model) = (sorted(turn), sorted(inst), sorted(model));
        rows.push(Row(
            "instantiate per run (fresh store + instance)".into(),
            format!("median {:.0} µs, p99 {:.0} µs", pct(&inst, 0.5), pct(&inst, 0.99)),
            "goal < 100 µs".into(),
        ));
        rows.push(Row(
            "message → completed, one turn, instant model".into(),
            format!("median {:.2} ms, p99 {:.2} ms", pct(&turn, 0.5), pct(&turn, 0.99)),
            String::new(),
        ));
        rows.push(Row(
            "  of which the mock model's HTTP round trip".into(),
            format!("median {:.2} ms", pct(&model, 0.5)),
            String::new(),
        ));
        rows.push(Row(
            "host overhead per turn (turn − model)".into(),
            format!("median {:.2} ms", pct(&turn, 0.5) - pct(&model, 0.5)),
            "goal ≤ 2 ms".into(),
        ));

        // Throughput: many threads at once.
        let total = 1000;
        let t = Instant::now();
        let mut tickets = Vec::with_capacity(total);
        for _ in 0..total {
            tickets.push(host.send_message(&dep.deployment_id, "hi", ThreadTarget::New).await.expect("send"));
        }
        for ticket in &tickets {
            let run = host.wait_for_run(&ticket.run_id).await.expect("run");
            assert_eq!(run.status, RunStatus::Completed);
        }
        let secs = t.elapsed().as_secs_f64();
        rows.push(Row(
            format!("turns/s, {total} concurrent threads, 2 cores"),
            format!("{:.0} /s", total as f64 / secs),
            "goal ≥ 500".into(),
        ));

        // Fixed context cost of a first turn.
        let req = llm.requests().pop().expect("request");
        let system = req["messages"][0]["content"].as_str().unwrap_or_default().len();
        let tools = req["tools"].to_string().len();
        rows.push(Row(
            "first-turn fixed context (system scaffold + tool schemas)".into(),
            format!(
                "{} bytes ≈ {} tokens ({} tools)",
                system + tools,
                (system + tools) / 4,
                req["tools"].as_array().map_or(0, |a| a.len())
            ),
            "goal ≤ 2,500 tokens".into(),
        ));
        host.shutdown().await;
    });

    let (wasm, native) = wasm_vs_native();
    rows.push(Row("context assembly, 200-message thread: wasm".into(), format!("{wasm:.1} µs/op"), String::new()));
    rows.push(Row("context assembly, 200-message thread: native".into(), format!("{native:.1} µs/op"), String::new()));
    rows.push(Row("  ratio wasm / native".into(), format!("{:.2}×", wasm / native), "goal ≤ 1.5×".into()));

    println!("\n| benchmark | result | target |\n|---|---|---|");
    for Row(a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read cache dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Runs the bench guest (the harness's context assembly compiled to wasm) and the
/// same function natively; returns µs per assembly for each.
fn wasm_vs_native() -> (f64, f64) {
    const ITERS: u32 = 2000;
    // Both sides: the same workload, timed as the difference between a short and a
    // long run (cancelling setup), median of five trials.
    let native = {
        let run = |iters: u32| -> Duration {
            let t = Instant::now();
            let workload = hermes_bench_guest::Workload::synthetic();
            std::hint::black_box(hermes_bench_guest::run(&workload, iters as u64));
            t.elapsed()
        };
        differential(run, ITERS)
    };
    let wasm = {
        let engine = wasmtime::Engine::default();
        let component =
            wasmtime::component::Component::from_file(&engine, env!("HERMES_BENCH_GUEST_WASM")).expect("bench guest");
        let mut linker = wasmtime::component::Linker::<Ctx>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("wasi");
        let pre = linker.instantiate_pre(&component).expect("pre");
        let run = |iters: u32| -> Duration {
            let ctx = Ctx {
                wasi: wasmtime_wasi::WasiCtx::builder().args(&["bench", &iters.to_string()]).build(),
                table: Default::default(),
            };
            let mut store = wasmtime::Store::new(&engine, ctx);
            let instance = pre.instantiate(&mut store).expect("instantiate");
            let command = wasmtime_wasi::p2::bindings::sync::Command::new(&mut store, &instance).expect("command");
            let t = Instant::now();
            command.wasi_cli_run().call_run(&mut store).expect("call").expect("run ok");
            t.elapsed()
        };
        // The difference between two iteration counts cancels instantiation and startup.
        differential(run, ITERS)
    };
    (wasm, native)
}

/// µs per iteration: the difference between a short and a long run (which cancels
/// setup such as instantiation), median of five trials.
fn differential(run: impl Fn(u32) -> Duration, iters: u32) -> f64 {
    let trials: Vec<f64> = (0..5)
        .map(|_| {
            let small = run(iters / 10);
            let big = run(iters + iters / 10);
            big.saturating_sub(small).as_secs_f64() * 1e6 / iters as f64
        })
        .collect();
    pct(&sorted(trials), 0.5)
}

struct Ctx {
    wasi: wasmtime_wasi::WasiCtx,
    table: wasmtime::component::ResourceTable,
}

impl wasmtime_wasi::WasiView for Ctx {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
