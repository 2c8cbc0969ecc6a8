//! MCP tool-call overhead: one call made from inside the sandbox (guest →
//! `mcp.call-tool` → host pool → MCP server on loopback → back) against the same call
//! made directly by a Rust client (`hermes_mcp_client::McpClient`), per call, medians.
//!
//! `cargo bench -p hermes-tests --bench mcp`
//!
//! Servers: a minimal stateless MCP server written here in Rust (so the server's
//! own time hides nothing), and the Python SDK's `MCPServer` from
//! `tests/mcp-peers` when its venv is installed (`tests/mcp-peers/install.sh`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use hermes_host::RunStatus;
use hermes_host::{DeploymentSpec, Host, ThreadTarget};
use hermes_mcp_client::McpClient;
use hermes_tests::mock_llm::MockLlm;
use serde_json::{Map, Value, json};

/// Calls measured per round and path.
const CALLS: usize = 300;
/// Calls made before measuring, per round and path.
const WARMUP: usize = 30;
/// Rounds alternate the two paths, so a load change on the machine hits both.
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[((v.len() - 1) as f64 * 0.99) as usize]
}

/// A stateless (2026-07-28) MCP server with one `echo` tool, answering JSON.
async fn rust_server() -> String {
    async fn handle(body: Bytes) -> axum::response::Response {
        let req: Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = req["id"].clone();
        let result = match req["method"].as_str().unwrap_or_default() {
            "server/discover" => {
                json!({"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}, "resultType": "complete"})
            }
            "tools/list" => {
                json!({"tools": [{"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}], "resultType": "complete"})
            }
            "tools/call" => {
                json!({"content": [{"type": "text", "text": req["params"]["arguments"]["text"]}], "resultType": "complete"})
            }
            _ => return axum::http::StatusCode::ACCEPTED.into_response(),
        };
        (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
        )
            .into_response()
    }
    let app = axum::Router::new().route("/mcp", axum::routing::post(handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}/mcp")
}

/// Per-call µs of the direct Rust client.
async fn direct(client: &McpClient) -> Vec<f64> {
    let mut times = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let t = Instant::now();
        let r = client.call_tool("echo", json!({"text": format!("call {i}")}), Map::new()).await.expect("call");
        assert_ne!(r["isError"], true, "{r}");
        if i >= WARMUP {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    times
}

/// A deployment of the timing guest calling `srv__echo` on `url`.
async fn deployment(host: &Host, url: &str) -> String {
    let spec: DeploymentSpec = serde_json::from_value(json!({
        "customer_id": "cus_bench", "name": "bench", "runtime": "mcpbench", "model": "openai/instant",
        "system_prompt": format!("mcp-bench srv__echo {}", WARMUP + CALLS),
        "features": {"memory": false},
        "mcp_servers": [{"name": "srv", "url": url}],
    }))
    .expect("spec");
    host.create_deployment(spec).await.expect("deployment").deployment_id
}

/// Per-call µs measured inside the sandbox by the test guest (one run).
async fn sandboxed(host: &Host, dep: &str) -> Vec<f64> {
    let ticket = host.send_message(dep, "go", ThreadTarget::Default).await.expect("send");
    let run = host.wait_for_run(&ticket.run_id).await.expect("run");
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let micros: Vec<u64> = serde_json::from_str(run.output.as_deref().unwrap_or("[]")).expect("timings");
    micros.into_iter().skip(WARMUP).map(|u| u as f64).collect()
}

fn python_server(log: &Path) -> Option<(std::process::Child, String)> {
    let peers =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("mcp-peers");
    let python = peers.join(".venv/bin/python");
    if !python.exists() {
        return None;
    }
    let mut child = Command::new(python)
        .arg(peers.join("server.py"))
        .arg("--log")
        .arg(log)
        .arg("--json-response")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let port = lines.find_map(|l| l.ok()?.strip_prefix("PORT ").map(str::to_string))?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Some((child, format!("http://127.0.0.1:{port}/mcp")))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let llm = MockLlm::start().await;
        let dir = tempfile::tempdir().expect("tmp");
        let env = HashMap::from([
            ("OPENAI_API_KEY".to_string(), "sk-bench".to_string()),
            ("OPENAI_BASE_URL".to_string(), llm.openai_base_url()),
            ("HERMES_ALLOW_PRIVATE_URLS".to_string(), "1".to_string()),
        ]);
        let wasm = std::fs::read(env!("HERMES_TEST_GUEST_WASM")).expect("test guest");
        let host =
            Host::builder(dir.path().join("data")).env(env).harness("mcpbench", wasm).build().await.expect("host");

        let mut servers = vec![("Rust (stateless, JSON)".to_string(), rust_server().await, None)];
        let log = dir.path().join("python.jsonl");
        if let Some((child, url)) = python_server(&log) {
            servers.push(("Python MCPServer".to_string(), url, Some(child)));
        } else {
            println!("(Python MCPServer skipped: run tests/mcp-peers/install.sh to include it)");
        }

        println!("\nMCP tool call, µs per call: {ROUNDS} alternating rounds of {CALLS} calls per path (after {WARMUP} warm-up)\n");
        println!("| server | direct median | sandboxed median | direct p99 | sandboxed p99 | median ratio |");
        println!("|---|---|---|---|---|---|");
        for (name, url, child) in servers.iter_mut() {
            let client = std::sync::Arc::new(McpClient::new(reqwest::Client::new(), url.parse().expect("url"), Default::default()));
            client.connect().await.expect("connect");
            let dep = deployment(&host, url).await;
            let (mut d, mut s) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                // On a runtime worker, like the host's side of the sandboxed call (the
                // `block_on` thread would add a cross-thread wake-up to every await).
                let c = client.clone();
                d.extend(tokio::spawn(async move { direct(&c).await }).await.expect("direct client"));
                s.extend(sandboxed(&host, &dep).await);
            }
            let (dm, sm) = (median(d.clone()), median(s.clone()));
            println!("| {name} | {dm:.0} | {sm:.0} | {:.0} | {:.0} | {:.2}× |", p99(d), p99(s), sm / dm);
            if let Some(c) = child {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        println!("\ngoal: median ratio ≤ 1.3×");
    });
}
