//! What exporting traces costs a turn: message → completed with an instant model, with
//! OpenTelemetry export off (no endpoint: the default) and on (OTLP/HTTP to a local
//! receiver), side by side in one run.
//!
//! Each mode runs in its own child process, because a process installs its tracing
//! subscriber once. The modes alternate (off, on, off, on, …) so that drift of the
//! machine hits both. Each child reports the median of its turns.
//!
//! `cargo bench -p hermes-tests --bench tracing`

use std::collections::HashMap;
use std::time::Instant;

use hermes_host::{DeploymentSpec, Host, RunStatus, ThreadTarget};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::json;
use tracing_subscriber::prelude::*;

const TURNS: usize = 300;
const ROUNDS: usize = 5;

fn spec() -> DeploymentSpec {
    serde_json::from_value(json!({
        "customer_id": "cus_bench", "name": "bench", "model": "openai/instant", "system_prompt": "bench",
        "features": {"memory": false}
    }))
    .expect("spec")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

/// One mode's turns, in this (child) process; prints the median turn in ms.
fn child(on: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let telemetry = if on {
            // A receiver that accepts every export, as a collector beside the host would.
            let app = axum::Router::new().route("/v1/traces", axum::routing::post(|| async { "" }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
            // SAFETY: set before any other thread of this process reads the environment.
            unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}")) };
            let (layer, telemetry) = hermes_telemetry::from_env().expect("exporter").expect("requested");
            tracing_subscriber::registry().with(layer).init();
            Some(telemetry)
        } else {
            None
        };
        let llm = MockLlm::start().await;
        llm.set_default(Reply::text("ok"));
        let dir = tempfile::tempdir().expect("tmp");
        let env = HashMap::from([
            ("OPENAI_API_KEY".to_string(), "sk-bench".to_string()),
            ("OPENAI_BASE_URL".to_string(), llm.openai_base_url()),
        ]);
        let host = Host::builder(dir.path())
            .env(env)
            .config(hermes_host::HostConfig { tenants: hermes_host::TenantLimits::unlimited(), ..Default::default() })
            .build()
            .await
            .expect("host");
        let dep = host.create_deployment(spec()).await.expect("deployment");
        let mut turns = Vec::with_capacity(TURNS);
        for i in 0..TURNS + 20 {
            let t = Instant::now();
            let ticket = host.send_message(&dep.deployment_id, "hi", ThreadTarget::New).await.expect("send");
            let run = host.wait_for_run(&ticket.run_id).await.expect("run");
            assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
            // The first turns warm caches and connections.
            if i >= 20 {
                turns.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        host.shutdown().await;
        if let Some(t) = telemetry {
            tokio::task::spawn_blocking(move || t.shutdown()).await.expect("flush");
        }
        println!("{:.4}", median(turns));
    });
}

fn main() {
    if let Ok(mode) = std::env::var("HERMES_BENCH_TRACING") {
        child(mode == "on");
        return;
    }
    let exe = std::env::current_exe().expect("this bench's path");
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for mode in ["off", "on"] {
            let out = std::process::Command::new(&exe)
                .env("HERMES_BENCH_TRACING", mode)
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .output()
                .expect("run a child");
            assert!(out.status.success(), "{mode}: {}", String::from_utf8_lossy(&out.stderr));
            let ms: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("a median");
            if mode == "on" { on.push(ms) } else { off.push(ms) }
        }
    }
    let (off_m, on_m) = (median(off.clone()), median(on.clone()));
    println!("| measure | tracing off | tracing on | on / off | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| message → completed, one turn, instant model (median of {ROUNDS} children × {TURNS} turns) | {off_m:.3} ms | \
         {on_m:.3} ms | {:.3} | ≤ 1.05 |",
        on_m / off_m
    );
    println!("| per child, off | {} | | | |", off.iter().map(|m| format!("{m:.3}")).collect::<Vec<_>>().join(", "));
    println!("| per child, on | | {} | | |", on.iter().map(|m| format!("{m:.3}")).collect::<Vec<_>>().join(", "));
}
