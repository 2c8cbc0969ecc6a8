//! MCP tools end to end: the real `hermes-host` binary, the mock model, and third-party
//! MCP servers started here on loopback — the Python SDK's `MCPServer`
//! (`tests/mcp-peers/server.py`, which logs every request it receives so the
//! assertions are made on the server side), `@modelcontextprotocol/server-everything`
//! (inside a private network namespace: it listens on every interface) and a
//! misbehaving server written here. The official conformance suite runs against our
//! client in `host/mcp-client/tests/conformance.rs`. `tests/mcp-peers/install.sh`
//! installs the pinned peers.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::Server;
use common::mcp_peer::{PythonPeer, install_peers, peers_dir};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

const SECRET: &str = "tok-SEKRET-4b9f2c71e0";

/// Starts the host binary with a config file and its log (stderr, at debug) in a file.
fn start_host(llm: &MockLlm, config: &str) -> (Server, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config_path = dir.path().join("hermes.toml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.path().join("host.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config_path)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", llm.openai_base_url())
        .env("HERMES_ALLOW_PRIVATE_URLS", "1")
        .env("HERMES_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start hermes-host");
    let lines = common::watch_stdout(&mut child);
    let key = common::await_listening(&mut child, &lines, port)
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("the host printed its admin key");
    (Server { child, base: format!("http://127.0.0.1:{port}"), key, port, dir }, log_path)
}

async fn send(server: &Server, dep: &str, content: &str) -> (String, Value) {
    let (status, ticket) =
        server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": content})).await;
    assert_eq!(status, 202, "{ticket}");
    let run_id = ticket["run_id"].as_str().unwrap().to_string();
    let mut run = Value::Null;
    for _ in 0..600 {
        run = server.get_json(&format!("/v1/deployments/{dep}/runs/{run_id}")).await;
        if run["status"] != "queued" && run["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (run_id, run)
}

/// The `data` of every event of `kind` in an SSE text.
fn events_of(text: &str, kind: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|f| f.lines().any(|l| l == format!("event: {kind}")))
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

async fn wait_connected(server: &Server, dep: &str) -> Value {
    for _ in 0..200 {
        let d = server.get_json(&format!("/v1/deployments/{dep}")).await;
        let settled = |s: &Value| s["status"] == "error" || (s["status"] == "connected" && !s["tool_count"].is_null());
        if d["mcp_servers"].as_array().unwrap().iter().all(settled) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("MCP servers of {dep} never left `connecting`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_tool_answers_and_the_secret_header_reaches_only_the_server() {
    let peer = PythonPeer::start();
    let llm = MockLlm::start().await;
    let (server, host_log) = start_host(&llm, "");
    let (status, secret) = server.post_json("/v1/secrets", &json!({"name": "crm-token", "value": SECRET})).await;
    assert_eq!(status, 201, "{secret}");
    let body = json!({
        "customer_id": "cus_mcp_7", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "secrets": {"CRM_TOKEN": secret["id"]},
        "mcp_servers": [{
            "name": "crm", "url": peer.url,
            "tools": ["echo", "add", "big", "picture"],
            "headers": {"Authorization": "Bearer ${CRM_TOKEN}"},
        }],
    });
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["mcp_servers"][0]["status"], "connecting", "creation does not wait for MCP: {d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();

    // GET starts the connection in the background and then shows it.
    let d = wait_connected(&server, &dep).await;
    let s = &d["mcp_servers"][0];
    assert_eq!(s["status"], "connected", "{d}");
    assert_eq!(s["tool_count"], 4, "only the allowlisted tools count: {d}");
    assert_eq!(s["protocol_version"], "2026-07-28", "the Python server speaks the stateless era: {d}");
    assert_eq!(s["headers"], json!(["Authorization"]), "header names only: {d}");

    // The Tools API lists MCP tools with their origin.
    let tools = server.get_json(&format!("/v1/deployments/{dep}/tools")).await;
    let crm_add = tools["data"].as_array().unwrap().iter().find(|t| t["name"] == "crm__add").cloned();
    assert_eq!(
        crm_add,
        Some(json!({"name": "crm__add", "origin": "mcp", "server": "crm", "enabled": true})),
        "{tools}"
    );
    assert!(!tools.to_string().contains("delete_everything"), "not allowlisted, not listed: {tools}");

    llm.push(Reply::tool("crm__add", json!({"a": 2, "b": 40})));
    llm.push(Reply::tool("crm__delete_everything", json!({"confirm": "yes"})));
    llm.push(Reply::tool("crm__big", json!({"size": 100000})));
    llm.push(Reply::tool("crm__picture", json!({})));
    llm.push(Reply::text("The sum is 42."));
    let (run_id, run) = send(&server, &dep, "What is 2 + 40?").await;
    assert_eq!(run["status"], "completed", "{run}");
    let events = common::events_until_done(&server, &dep, &run_id).await;

    let requests = llm.requests();
    assert_eq!(requests.len(), 5, "{requests:?}");
    let names = common::offered(&requests[0]);
    for want in ["crm__echo", "crm__add", "crm__big", "crm__picture", "read_file"] {
        assert!(names.contains(&want.to_string()), "{want} offered beside the built-ins: {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("delete_everything")), "{names:?}");
    let results = common::tool_results(&requests[4]);
    assert!(results[0].contains("42"), "the model read the tool's answer: {results:?}");
    assert!(results[1].contains("not in this deployment's allowlist"), "{results:?}");
    assert!(results[2].contains(".hermes/tool-results/") && results[2].len() < 8_000, "{}", &results[2][..300]);
    assert!(results[3].contains("[image: image/png"), "{results:?}");

    // Server side: the allowlisted call arrived with the secret header and the
    // customer id in `_meta`; the refused one never arrived.
    let calls = peer.calls();
    let tools_called: Vec<&str> = calls.iter().map(|c| c["tool"].as_str().unwrap()).collect();
    assert_eq!(tools_called, ["add", "big", "picture"], "{calls:?}");
    assert_eq!(calls[0]["headers"]["authorization"], format!("Bearer {SECRET}"));
    assert_eq!(calls[0]["meta"]["customer_id"], "cus_mcp_7");
    assert_eq!(calls[0]["headers"]["mcp-protocol-version"], "2026-07-28");

    // The whole big result is in the workspace, where the model was told it is.
    let spilled = common::files_containing(server.dir.path(), b"END-OF-BIG");
    assert!(spilled.iter().any(|p| p.to_string_lossy().contains(".hermes/tool-results/")), "{spilled:?}");

    // Events carry server, tool, arguments and a bounded preview.
    let call_events = events_of(&events, "tool_call");
    let add = call_events.iter().find(|e| e["tool"] == "crm__add").expect("tool_call for crm__add");
    assert_eq!(
        (&add["server"], &add["mcp_tool"], &add["arguments"]),
        (&json!("crm"), &json!("add"), &json!({"a": 2, "b": 40}))
    );
    let result_events = events_of(&events, "tool_result");
    let add_result = result_events.iter().find(|e| e["call_id"] == add["call_id"]).expect("its tool_result");
    assert_eq!(add_result["server"], "crm");
    // As the hosted docs name it: the tool's own name, where it comes from, its output.
    assert_eq!((&add_result["name"], &add_result["origin"]), (&json!("add"), &json!("mcp")), "{add_result}");
    assert_eq!((&add["name"], &add["origin"]), (&json!("add"), &json!("mcp")), "{add}");
    assert_eq!(add_result["result"], json!("42"), "{add_result}");
    assert_eq!(add_result["result_truncated"], false, "{add_result}");
    assert!(add_result["preview"].as_str().unwrap().contains("42"), "{add_result}");
    assert!(result_events.iter().all(|e| e["preview"].as_str().unwrap().len() < 2100), "previews are bounded");

    // The secret is nowhere but at the server: not in events, the thread, the model's
    // requests, the API, the host's log or any file of its data dir.
    let thread = server.get_json(&format!("/v1/deployments/{dep}/threads/{}", d["thread_id"].as_str().unwrap())).await;
    let model_headers = format!("{:?}", llm.request_headers());
    for (what, text) in [
        ("events", events.clone()),
        ("thread", thread.to_string()),
        ("model requests", serde_json::to_string(&requests).unwrap()),
        ("model request headers", model_headers),
        ("deployment", d.to_string()),
        ("host log", std::fs::read_to_string(&host_log).unwrap()),
    ] {
        assert!(!text.contains(SECRET), "the secret leaked into the {what}");
    }
    assert!(common::files_containing(server.dir.path(), SECRET.as_bytes()).is_empty(), "the secret is in a file");
    assert!(std::fs::read_to_string(&host_log).unwrap().contains("MCP tool called"), "the log is really captured");

    // An MCP tool disabled through the Tools API is no longer offered.
    let r = reqwest::Client::new()
        .patch(format!("{}/v1/deployments/{dep}/tools/crm__echo", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["enabled"], false);
    llm.push(Reply::text("fine"));
    let (_, run) = send(&server, &dep, "again").await;
    assert_eq!(run["status"], "completed", "{run}");
    let names = common::offered(llm.requests().last().unwrap());
    assert!(names.contains(&"crm__add".to_string()) && !names.contains(&"crm__echo".to_string()), "{names:?}");
}

/// A server that connects fine but then misbehaves: garbage for `garbage`, an SSE
/// stream cut mid-event for `cut`.
async fn flaky_server() -> String {
    async fn handle(body: Bytes) -> Response {
        let req: Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = req["id"].clone();
        let json_reply = |v: Value| ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response();
        match req["method"].as_str().unwrap_or_default() {
            "initialize" => json_reply(json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                "serverInfo": {"name": "flaky", "version": "1"}}})),
            "tools/list" => json_reply(json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [
                {"name": "garbage", "inputSchema": {"type": "object"}},
                {"name": "cut", "inputSchema": {"type": "object"}}]}})),
            "tools/call" if req["params"]["name"] == "garbage" => {
                ([(header::CONTENT_TYPE, "application/json")], "<html>no JSON-RPC here").into_response()
            }
            "tools/call" => {
                let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                    Ok(Bytes::from_static(b"event: message\ndata: {\"jsonrpc\":\"2.0\",")),
                    Err(std::io::Error::other("connection cut")),
                ];
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/event-stream")
                    .body(Body::from_stream(futures::stream::iter(chunks)))
                    .unwrap()
            }
            "server/discover" => (StatusCode::BAD_REQUEST, "unknown method").into_response(),
            _ => StatusCode::ACCEPTED.into_response(),
        }
    }
    let app = axum::Router::new().route("/mcp", axum::routing::post(handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_garbled_or_cut_server_gives_tool_errors_and_the_run_goes_on() {
    let peer = PythonPeer::start();
    let flaky = flaky_server().await;
    let llm = MockLlm::start().await;
    let (server, _log) = start_host(&llm, "[mcp]\ncall_timeout_ms = 1500\n");
    let body = json!({
        "customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "mcp_servers": [
            {"name": "slow", "url": peer.url, "tools": ["sleep", "echo", "fail"]},
            {"name": "flaky", "url": flaky},
            {"name": "gone", "url": format!("http://127.0.0.1:{}/mcp", common::free_port())},
        ],
    });
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();

    llm.push(Reply::tool("slow__sleep", json!({"seconds": 30})));
    llm.push(Reply::tool("flaky__garbage", json!({})));
    llm.push(Reply::tool("flaky__cut", json!({})));
    llm.push(Reply::tool("gone__anything", json!({})));
    llm.push(Reply::tool("slow__fail", json!({"reason": "testing"})));
    llm.push(Reply::tool("slow__echo", json!({"text": "still here"})));
    llm.push(Reply::text("Done despite it all."));
    let started = std::time::Instant::now();
    let (_, run) = send(&server, &dep, "Try the tools").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert!(started.elapsed() < Duration::from_secs(25), "the hang was cut by the call timeout");

    let requests = llm.requests();
    let names = common::offered(&requests[0]);
    assert!(names.contains(&"slow__sleep".to_string()) && names.contains(&"flaky__cut".to_string()), "{names:?}");
    let results = common::tool_results(requests.last().unwrap());
    assert_eq!(results.len(), 6, "{results:?}");
    assert!(results[0].contains("did not answer") && results[0].contains("1500 ms"), "{}", results[0]);
    assert!(results[1].contains("invalid response") && results[1].contains("not JSON"), "{}", results[1]);
    assert!(results[2].contains("failed"), "{}", results[2]);
    assert!(results[3].contains("connecting failed"), "{}", results[3]);
    assert!(results[4].contains("failed on purpose: testing"), "an isError result reaches the model: {}", results[4]);
    assert_eq!(results[5], "echo: still here", "the run went on and the server still answers");

    // GET deployment tells which server is in trouble.
    let d = server.get_json(&format!("/v1/deployments/{dep}")).await;
    let gone = d["mcp_servers"].as_array().unwrap().iter().find(|s| s["name"] == "gone").unwrap().clone();
    assert_eq!(gone["status"], "error", "{gone}");
    assert!(gone["error"]["message"].as_str().unwrap().contains("cannot reach"), "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_is_reconnected_after_a_backoff() {
    let mut peer = PythonPeer::start();
    let port = peer.port();
    let llm = MockLlm::start().await;
    let (server, _log) = start_host(&llm, "[mcp]\ninitial_backoff_ms = 400\n");
    let body = json!({
        "customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "mcp_servers": [{"name": "crm", "url": peer.url, "tools": ["echo"]}],
    });
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();

    llm.push(Reply::tool("crm__echo", json!({"text": "one"})));
    // The delays give this test time to stop and restart the server between calls.
    llm.push(Reply::after_ms(1500, Reply::tool("crm__echo", json!({"text": "two"}))));
    llm.push(Reply::tool("crm__echo", json!({"text": "three"})));
    // Room for the Python peer to start again even on a loaded machine (it imports
    // the MCP SDK, which took over 2.5 s under a parallel test run).
    llm.push(Reply::after_ms(6000, Reply::tool("crm__echo", json!({"text": "four"}))));
    llm.push(Reply::text("done"));
    let (status, ticket) =
        server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "echo"})).await;
    assert_eq!(status, 202, "{ticket}");

    // Stop the server once its answer to the first call has reached the model (the
    // peer records a call when it arrives, before its answer is on the wire)…
    for _ in 0..400 {
        if !peer.calls().is_empty() && llm.requests().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(peer.calls().len(), 1);
    drop(peer);
    // …and start it again (same port) once the third call has failed.
    for _ in 0..400 {
        if llm.requests().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    peer = PythonPeer::start_on(port);
    let run = server.wait_run(&dep, ticket["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");

    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(results[0], "echo: one");
    assert!(results[1].contains("cannot reach"), "the server went away mid-run: {}", results[1]);
    assert!(results[2].contains("connecting failed"), "reconnecting failed: {}", results[2]);
    assert_eq!(results[3], "echo: four", "reconnected after the backoff");
    let calls = peer.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["meta"]["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
}

/// A child process stopped when the test ends, even by a failed assertion.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether this machine gives a process its own network namespace with a working
/// loopback (`unshare -rn` and `ip`).
fn namespaces_available() -> bool {
    Command::new("unshare")
        .args(["-rn", "sh", "-c", "ip link set lo up"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn server_everything_through_an_agent_run_in_a_private_network_namespace() {
    if std::env::var_os("HERMES_MCP_IN_NETNS").is_some() {
        return;
    }
    if !namespaces_available() {
        eprintln!(
            "SKIPPED: no private network namespace here (`unshare -rn` + `ip`), so server-everything \
             (which listens on every interface) is not run"
        );
        return;
    }
    install_peers();
    // This test binary runs `inner_everything_run` again inside a fresh network
    // namespace, where server-everything, the host and the mock model are alone.
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "inner_everything_run", "--ignored", "--nocapture", "--test-threads=1"])
        .env("HERMES_MCP_IN_NETNS", "1")
        .output()
        .expect("run the test in a namespace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.contains("1 passed"), "inner run failed:\n{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by server_everything_through_an_agent_run_in_a_private_network_namespace"]
async fn inner_everything_run() {
    if std::env::var_os("HERMES_MCP_IN_NETNS").is_none() {
        eprintln!("inner_everything_run runs only inside the namespace its outer test makes");
        return;
    }
    let port = common::free_port();
    let everything = Command::new(peers_dir().join("node_modules/.bin/node"))
        .arg(peers_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .expect("start server-everything");
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let llm = MockLlm::start().await;
    let (server, _log) = start_host(&llm, "");
    let body = json!({
        "customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "mcp_servers": [{"name": "everything", "url": format!("http://127.0.0.1:{port}/mcp"),
            "tools": ["echo", "get-sum", "get-tiny-image", "get-resource-links", "get-structured-content"]}],
    });
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();
    let d = wait_connected(&server, &dep).await;
    assert_eq!(d["mcp_servers"][0]["status"], "connected", "{d}");
    assert_eq!(d["mcp_servers"][0]["tool_count"], 5, "{d}");

    llm.push(Reply::tool("everything__echo", json!({"message": "hello everything"})));
    llm.push(Reply::tool("everything__get-sum", json!({"a": 19, "b": 23})));
    llm.push(Reply::tool("everything__get-tiny-image", json!({})));
    llm.push(Reply::tool("everything__get-resource-links", json!({"count": 2})));
    llm.push(Reply::tool("everything__get-structured-content", json!({"location": "New York"})));
    llm.push(Reply::text("ok"));
    let (_, run) = send(&server, &dep, "Use everything").await;
    drop(everything);
    assert_eq!(run["status"], "completed", "{run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(results.len(), 5, "{results:?}");
    assert!(results[0].contains("hello everything"), "{}", results[0]);
    assert!(results[1].contains("42"), "{}", results[1]);
    assert!(results[2].contains("[image: image/png"), "{}", results[2]);
    assert!(results[3].contains("[resource link:"), "{}", results[3]);
    assert!(results[4].contains("temperature") || results[4].contains("Structured"), "{}", results[4]);
}

/// A handshake-era server that pages its tool list and can forget its session.
#[derive(Default)]
struct LegacyState {
    sessions: u32,
    current: String,
    initialized: Vec<String>,
    calls: Vec<(String, String)>,
}

async fn legacy_server(state: std::sync::Arc<std::sync::Mutex<LegacyState>>) -> String {
    async fn handle(
        axum::extract::State(st): axum::extract::State<std::sync::Arc<std::sync::Mutex<LegacyState>>>,
        headers: axum::http::HeaderMap,
        body: Bytes,
    ) -> Response {
        let req: Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = req["id"].clone();
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut st = st.lock().unwrap();
        let reply = |v: Value| {
            ([(header::CONTENT_TYPE, "application/json")], json!({"jsonrpc": "2.0", "id": id, "result": v}).to_string())
        };
        match req["method"].as_str().unwrap_or_default() {
            "server/discover" => (StatusCode::BAD_REQUEST, "no such method").into_response(),
            "initialize" => {
                st.sessions += 1;
                st.current = format!("s{}", st.sessions);
                let sid = st.current.clone();
                let mut r = reply(json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "legacy", "version": "1"}})).into_response();
                r.headers_mut().insert("mcp-session-id", sid.parse().unwrap());
                r
            }
            _ if h("mcp-session-id") != st.current => (StatusCode::NOT_FOUND, "unknown session").into_response(),
            "notifications/initialized" => {
                st.initialized.push(h("mcp-session-id"));
                StatusCode::ACCEPTED.into_response()
            }
            "tools/list" if req["params"]["cursor"] == "p2" => {
                reply(json!({"tools": [{"name": "b", "inputSchema": {"type": "object"}}]})).into_response()
            }
            "tools/list" => {
                reply(json!({"tools": [{"name": "a", "inputSchema": {"type": "object"}}], "nextCursor": "p2"}))
                    .into_response()
            }
            "tools/call" => {
                st.calls.push((h("mcp-session-id"), h("mcp-protocol-version")));
                reply(json!({"content": [{"type": "text", "text": format!("ok from {}", st.current)}]})).into_response()
            }
            _ => StatusCode::BAD_REQUEST.into_response(),
        }
    }
    let app = axum::Router::new().route("/mcp", axum::routing::post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

#[tokio::test]
async fn a_forgotten_session_is_renewed_and_tool_lists_are_paged() {
    use hermes_mcp_client::McpClient;
    let state = std::sync::Arc::new(std::sync::Mutex::new(LegacyState::default()));
    let url = legacy_server(state.clone()).await;
    let client = McpClient::new(reqwest::Client::new(), url.parse().unwrap(), Default::default());
    assert_eq!(client.connect().await.unwrap(), "2025-11-25", "no stateless era here: the handshake");
    let names: Vec<String> = client.list_tools().await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["a", "b"], "both pages");
    let first = client.call_tool("a", json!({}), serde_json::Map::new()).await.unwrap();
    assert_eq!(first["content"][0]["text"], "ok from s1");

    state.lock().unwrap().current = "forgotten".into();
    let second = client.call_tool("a", json!({}), serde_json::Map::new()).await.unwrap();
    assert_eq!(second["content"][0]["text"], "ok from s2", "a 404 starts a new session and the call is retried");
    let st = state.lock().unwrap();
    assert_eq!(st.sessions, 2);
    assert_eq!(st.initialized, ["s1", "s2"], "each session is announced with notifications/initialized");
    assert_eq!(st.calls, [("s1".into(), "2025-11-25".into()), ("s2".into(), "2025-11-25".into())]);
}

/// A legacy-era server whose `tools/list` is `pages` pages of `per_page` tools, each
/// with a schema of `schema_bytes` bytes; counts the `tools/list` requests it got.
async fn hoarding_server(
    pages: usize,
    per_page: usize,
    schema_bytes: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let lists = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = lists.clone();
    let handle = move |body: Bytes| {
        let counter = counter.clone();
        async move {
            let req: Value = serde_json::from_slice(&body).unwrap_or_default();
            let id = req["id"].clone();
            let json_reply = |v: Value| ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response();
            match req["method"].as_str().unwrap_or_default() {
                "initialize" => json_reply(json!({"jsonrpc": "2.0", "id": id, "result": {
                    "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                    "serverInfo": {"name": "hoarder", "version": "1"}}})),
                "tools/list" => {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let page: usize = req["params"]["cursor"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0);
                    let filler = "x".repeat(schema_bytes);
                    let tools: Vec<Value> = (0..per_page)
                        .map(|i| json!({"name": format!("t{page}_{i}"), "inputSchema": {"type": "object", "description": filler}}))
                        .collect();
                    let mut result = json!({"tools": tools});
                    if page + 1 < pages {
                        result["nextCursor"] = json!((page + 1).to_string());
                    }
                    json_reply(json!({"jsonrpc": "2.0", "id": id, "result": result}))
                }
                "server/discover" => (StatusCode::BAD_REQUEST, "unknown method").into_response(),
                _ => StatusCode::ACCEPTED.into_response(),
            }
        }
    };
    let app = axum::Router::new().route("/mcp", axum::routing::post(handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/mcp"), lists)
}

/// Issue 14, defect 2: a tenant's server cannot make the host hold its whole tool
/// list, however many pages it sends: the listing stops at the budget with a clear
/// error, oversized schemas are skipped, and the host keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_listing_too_much_is_cut_off_at_the_budget() {
    let llm = MockLlm::start().await;
    let (server, _log) = start_host(&llm, "");
    // 20 pages of 100 tools with 8 KiB schemas: 16 MiB in all, four times the budget.
    let (big, lists) = hoarding_server(20, 100, 8 << 10).await;
    // One page of tools whose 100 KiB schemas are each over the per-tool limit, and one small tool.
    let (fat, _) = hoarding_server(1, 3, 100 << 10).await;
    let body = json!({"customer_id": "c", "name": "A", "system_prompt": "x",
        "mcp_servers": [{"name": "big", "url": big}, {"name": "fat", "url": fat}]});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap();
    let d = wait_connected(&server, dep).await;
    let big_status = &d["mcp_servers"][0];
    assert_eq!(big_status["status"], "error", "{d}");
    assert!(big_status["error"]["message"].as_str().unwrap().contains("larger than this host keeps"), "{d}");
    assert!(lists.load(std::sync::atomic::Ordering::Relaxed) < 20, "the host stopped paging at the budget");
    let fat_status = &d["mcp_servers"][1];
    assert_eq!((fat_status["status"].as_str(), fat_status["tool_count"].as_u64()), (Some("connected"), Some(0)), "{d}");
    let health = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(health.status(), 200);
}

/// Issue 14, defect 2: listings are reused for `[mcp] list_ttl_ms`, so reading the
/// Tools API (or starting runs) does not re-list the server every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_listings_are_reused_until_their_ttl() {
    let llm = MockLlm::start().await;
    let (server, _log) = start_host(&llm, "[mcp]\nlist_ttl_ms = 60000\n");
    let (url, lists) = hoarding_server(1, 2, 10).await;
    let body =
        json!({"customer_id": "c", "name": "A", "system_prompt": "x", "mcp_servers": [{"name": "s", "url": url}]});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap();
    for _ in 0..5 {
        let tools = server.get_json(&format!("/v1/deployments/{dep}/tools")).await;
        assert_eq!(tools["data"].as_array().unwrap().iter().filter(|t| t["origin"] == "mcp").count(), 2, "{tools}");
    }
    assert_eq!(lists.load(std::sync::atomic::Ordering::Relaxed), 1, "listed once, reused four times");

    let (server, _log) = start_host(&llm, "[mcp]\nlist_ttl_ms = 0\n");
    let (status, d) = server
        .post_json(
            "/v1/deployments",
            &json!({"customer_id": "c", "name": "A", "system_prompt": "x",
        "mcp_servers": [{"name": "s", "url": url}]}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    let before = lists.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..3 {
        server.get_json(&format!("/v1/deployments/{}/tools", d["deployment_id"].as_str().unwrap())).await;
    }
    assert_eq!(lists.load(std::sync::atomic::Ordering::Relaxed) - before, 3, "a TTL of 0 lists every time");
}

/// Issue 14, point 9: a server that fails the connection by echoing the request's
/// secret header back never gets the secret into the host's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_never_logs_an_echoed_secret_header() {
    let echo = |headers: axum::http::HeaderMap| async move {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
        (StatusCode::BAD_REQUEST, format!("bad credentials: {auth}"))
    };
    let app = axum::Router::new().route("/mcp", axum::routing::post(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let llm = MockLlm::start().await;
    let (server, log) = start_host(&llm, "");
    let (_, secret) = server.post_json("/v1/secrets", &json!({"name": "crm", "value": SECRET})).await;
    let body = json!({"customer_id": "c", "name": "A", "system_prompt": "x", "secrets": {"CRM": secret["id"]},
        "mcp_servers": [{"name": "crm", "url": format!("http://{addr}/mcp"), "headers": {"Authorization": "Bearer ${CRM}"}}]});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let d = wait_connected(&server, d["deployment_id"].as_str().unwrap()).await;
    assert_eq!(d["mcp_servers"][0]["status"], "error", "{d}");
    assert!(!d.to_string().contains(SECRET), "{d}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("MCP server unavailable"), "the failure is logged");
    let leaks: Vec<&str> = text.lines().filter(|l| l.contains(SECRET)).collect();
    assert!(leaks.is_empty(), "but not the secret it echoed: {leaks:#?}");
}
