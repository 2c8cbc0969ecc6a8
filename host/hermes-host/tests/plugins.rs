//! Vendor plugins end to end over HTTP, against the real `hermes-host` binary: upload
//! (raw and multipart) and its validation, attaching with allowlists and grants, the
//! model (the local mock) calling plugin tools, failures that stay inside one tool
//! call, a harness plugin as a deployment's runtime, and the host enforcing policy
//! on every host-tool call whatever the guest does. The components are real: the
//! example plugin, a test plugin that misbehaves on request, one whose `list-tools`
//! never returns, a WASI command, and the test harness (`tests/build.rs` builds them).

mod common;

use common::{Server, create, events, send};

use hermes_tests::guests;
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A server whose `hermes.toml` is `config`.
fn start_configured(llm: &MockLlm, config: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hermes.toml");
    std::fs::write(&path, config).unwrap();
    let server = common::start_with(llm, &[("HERMES_CONFIG", path.to_str().unwrap())]);
    (server, dir)
}

/// `POST /v1/plugins` with raw bytes; status and body.
async fn upload(server: &Server, key: &str, name: Option<&str>, wasm: Vec<u8>) -> (u16, Value) {
    let mut url = format!("{}/v1/plugins", server.base);
    if let Some(n) = name {
        url.push_str(&format!("?name={n}"));
    }
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/wasm")
        .body(wasm)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn upload_ok(server: &Server, name: &str, wasm: &str) -> Value {
    let (status, p) = upload(server, &server.key, Some(name), read(wasm)).await;
    assert_eq!(status, 201, "{p}");
    p
}

fn other_account_key(server: &Server) -> String {
    let dir = server.dir.path().to_str().unwrap();
    let key = common::cli(&["keys", "create", "--data-dir", dir, "--account", "acct_other", "--scopes", "*"]);
    common::cli(&["credits", "set", "1000", "--data-dir", dir, "--account", "acct_other"]);
    key.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_uploads_attaches_and_the_agent_calls_its_tool() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);

    // Upload the example plugin exactly as its README says.
    let p = upload_ok(&server, "text", guests::EXAMPLE_PLUGIN).await;
    let id = p["plugin_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("plg_"), "{p}");
    assert_eq!(
        (p["name"].as_str(), p["world"].as_str(), p["wit_version"].as_str()),
        (Some("text"), Some("tool-plugin"), Some("0.1.0"))
    );
    assert_eq!(p["size"], read(guests::EXAMPLE_PLUGIN).len(), "{p}");
    assert_eq!(p["sha256"].as_str().unwrap().len(), 64, "{p}");
    let tools: Vec<&str> = p["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["word_count", "slugify"], "{p}");
    assert_eq!(p["capabilities"], json!([]), "{p}");
    assert!(p["created_at"].is_string(), "{p}");

    // The same bytes again: a second plugin, the same content hash.
    let again = upload_ok(&server, "text2", guests::EXAMPLE_PLUGIN).await;
    assert_eq!(again["sha256"], p["sha256"]);
    assert_ne!(again["plugin_id"], p["plugin_id"]);
    assert_eq!(server.get_json(&format!("/v1/plugins/{id}")).await["name"], "text");
    let list = server.get_json("/v1/plugins?limit=1").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["has_more"], true, "{list}");

    // Another account sees nothing of it, and cannot attach it.
    let other = other_account_key(&server);
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/v1/plugins/{id}", server.base)).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/v1/deployments", server.base))
        .bearer_auth(&other)
        .json(&json!({"customer_id": "c", "name": "B", "system_prompt": "x", "plugins": [{"plugin_id": id}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "{:?}", r.text().await);

    // Attach with an allowlist; the tool list shows only the allowed tool, by origin.
    let dep = create(
        &server,
        json!({"customer_id": "cus_p", "name": "P", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "plugins": [{"plugin_id": id, "tools": ["slugify"]}]}),
    )
    .await;
    let d = server.get_json(&format!("/v1/deployments/{dep}")).await;
    assert_eq!(d["plugins"], json!([{"plugin_id": id, "tools": ["slugify"], "grants": {}}]), "{d}");
    let tools = server.get_json(&format!("/v1/deployments/{dep}/tools")).await;
    let plugin_tools: Vec<&Value> =
        tools["data"].as_array().unwrap().iter().filter(|t| t["origin"] != "builtin").collect();
    assert_eq!(plugin_tools.len(), 1, "{tools}");
    assert_eq!(plugin_tools[0]["name"], "text__slugify");
    assert_eq!(plugin_tools[0]["origin"], format!("plugin:{id}"));
    assert_eq!(plugin_tools[0]["enabled"], true);

    // The model calls the allowed tool, then one outside the allowlist.
    llm.push(Reply::tool("text__slugify", json!({"title": "Hello, Plugin World 2026!"})));
    llm.push(Reply::tool("text__word_count", json!({"text": "a b c"})));
    llm.push(Reply::text("done"));
    let (run_id, run) = send(&server, &dep, "make a slug").await;
    assert_eq!(run["status"], "completed", "{run}");
    let requests = llm.requests();
    let first = &requests[requests.len() - 3];
    assert!(common::offered(first).contains(&"text__slugify".to_string()), "{:?}", common::offered(first));
    assert!(!common::offered(first).contains(&"text__word_count".to_string()), "outside the allowlist is not offered");
    let results = common::tool_results(&requests[requests.len() - 1]);
    assert_eq!(results[0], "hello-plugin-world-2026", "{results:?}");
    assert!(results[1].contains("no tool `word_count`"), "the host refuses a tool outside the allowlist: {results:?}");

    // The stream names the plugin as the origin of the call and of its result.
    let evs = events(&server, &dep, &format!("\"run_id\":\"{run_id}\",\"status\":\"completed\"")).await;
    let call = evs.iter().find(|(k, d)| k == "tool_call" && d["tool"] == "text__slugify").expect("tool_call event");
    assert_eq!(call.1["origin"], format!("plugin:{id}"), "{:?}", call.1);
    assert_eq!((call.1["plugin"].as_str(), call.1["plugin_tool"].as_str()), (Some("text"), Some("slugify")));
    let result = evs.iter().find(|(k, d)| k == "tool_result" && d["tool"] == "text__slugify").expect("tool_result");
    assert_eq!(result.1["origin"], format!("plugin:{id}"));
    assert_eq!(result.1["preview"], "hello-plugin-world-2026");

    // PATCH replaces the attachments whole; the Tools API disables a plugin tool.
    let r = http
        .patch(format!("{}/v1/deployments/{dep}", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"plugins": [{"plugin_id": id, "tools": ["slugify", "word_count"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let r = http
        .patch(format!("{}/v1/deployments/{dep}/tools/text__word_count", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let tools = server.get_json(&format!("/v1/deployments/{dep}/tools")).await;
    let state: Vec<(String, bool)> = tools["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["origin"] == format!("plugin:{id}"))
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["enabled"].as_bool().unwrap()))
        .collect();
    assert_eq!(state, [("text__word_count".to_string(), false), ("text__slugify".to_string(), true)], "{tools}");
    let d = server.get_json(&format!("/v1/deployments/{dep}")).await;
    assert_eq!(d["config"]["disabled_tools"], json!(["text__word_count"]), "{d}");

    // In use, it cannot be deleted; the conflict names the deployment.
    let r = http.delete(format!("{}/v1/plugins/{id}", server.base)).bearer_auth(&server.key).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains(&dep));
    let r = http.delete(format!("{}/v1/plugins/{}", server.base, again["plugin_id"].as_str().unwrap()));
    assert_eq!(r.bearer_auth(&server.key).send().await.unwrap().status(), 200);
    // Its twin's bytes are still there: the deployment keeps working.
    llm.push(Reply::tool("text__slugify", json!({"title": "Still Here"})));
    llm.push(Reply::text("ok"));
    let (_, run) = send(&server, &dep, "again").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(common::tool_results(llm.requests().last().unwrap()).last().unwrap(), "still-here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_422_with_their_reason_and_the_host_keeps_serving() {
    let llm = MockLlm::start().await;
    let (server, _config) = start_configured(&llm, "[plugins]\nlist_tools_timeout_secs = 1\nmax_upload_mib = 2\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("garbage", b"this is not wasm at all".to_vec(), "not a WebAssembly component"),
        ("core module", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        ("another world", read(guests::COMMAND), "wasi:cli/run"),
        (
            "list-tools loops",
            read(guests::STUCK_PLUGIN),
            "`list-tools` was stopped: it ran longer than its limit of 1s",
        ),
        ("too large", vec![0u8; 3 << 20], "limit of 2 MiB"),
    ];
    for (what, wasm, reason) in cases {
        let (status, body) = upload(&server, &server.key, Some("bad"), wasm).await;
        assert_eq!(status, 422, "{what}: {body}");
        assert_eq!(body["error"], "invalid_plugin", "{what}: {body}");
        assert!(body["message"].as_str().unwrap().contains(reason), "{what}: {body}");
    }
    // A name is required (the example's manifest has none), and must be a prefix.
    let (status, body) = upload(&server, &server.key, None, read(guests::EXAMPLE_PLUGIN)).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid_plugin")), "{body}");
    let (status, body) = upload(&server, &server.key, Some("Bad__Name"), read(guests::EXAMPLE_PLUGIN)).await;
    assert_eq!(status, 422, "{body}");
    // Scope: a read-only key cannot upload.
    let dir = server.dir.path().to_str().unwrap();
    let reader = common::cli(&["keys", "create", "--data-dir", dir, "--scopes", "deployments:read"]);
    let (status, body) = upload(&server, reader.trim(), Some("x"), read(guests::EXAMPLE_PLUGIN)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("plugins:write"), "{body}");

    // Still serving: a good upload (multipart, with a manifest naming it) works.
    let form = reqwest::multipart::Form::new()
        .part("component", reqwest::multipart::Part::bytes(read(guests::TEST_PLUGIN)).file_name("p.wasm"))
        .text("manifest", r#"{"name": "probe", "version": "2.1.0", "capabilities": ["workspace:read"]}"#);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/plugins", server.base))
        .bearer_auth(&server.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    assert_eq!((p["name"].as_str(), p["version"].as_str()), (Some("probe"), Some("2.1.0")), "{p}");
    assert_eq!(p["capabilities"], json!(["workspace:read"]), "the manifest part replaces the section: {p}");
    let health = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_the_workspace_only_as_granted() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let p = upload_ok(&server, "probe", guests::TEST_PLUGIN).await;
    assert_eq!(p["capabilities"], json!(["workspace:read-write"]), "declared in its custom section: {p}");
    assert_eq!(p["version"], "1.0.0");
    let id = p["plugin_id"].as_str().unwrap();

    let deployment = |grants: Value| {
        json!({"customer_id": "cus_w", "name": "W", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "plugins": [{"plugin_id": id, "grants": grants}]})
    };
    let mut outcomes = Vec::new();
    for grants in [json!({}), json!({"workspace": "read"}), json!({"workspace": "read-write"})] {
        let dep = create(&server, deployment(grants.clone())).await;
        let r = reqwest::Client::new()
            .put(format!("{}/v1/deployments/{dep}/files", server.base))
            .bearer_auth(&server.key)
            .json(&json!({"path": "notes/a.txt", "content": "from the Files API"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        llm.push(Reply::tool("probe__read", json!({"path": "notes/a.txt"})));
        llm.push(Reply::tool("probe__write", json!({"path": "notes/b.txt", "text": "from the plugin"})));
        llm.push(Reply::text("done"));
        let (_, run) = send(&server, &dep, "use the workspace").await;
        assert_eq!(run["status"], "completed", "{run}");
        let results = common::tool_results(llm.requests().last().unwrap());
        let written = reqwest::Client::new()
            .get(format!("{}/v1/deployments/{dep}/files/content?path=notes/b.txt", server.base))
            .bearer_auth(&server.key)
            .send()
            .await
            .unwrap();
        let written = if written.status() == 200 { Some(written.text().await.unwrap()) } else { None };
        outcomes.push((grants, results, written));
    }
    let (_, none, written) = &outcomes[0];
    assert!(none[0].contains("cannot read"), "no grant, no workspace: {none:?}");
    assert!(none[1].contains("cannot write"), "{none:?}");
    assert_eq!(written, &None);
    let (_, read_only, written) = &outcomes[1];
    assert_eq!(read_only[0], "from the Files API", "{read_only:?}");
    assert!(read_only[1].contains("cannot write"), "read grant is read-only: {read_only:?}");
    assert_eq!(written, &None);
    let (_, read_write, written) = &outcomes[2];
    assert_eq!(read_write[0], "from the Files API");
    assert_eq!(read_write[1], "written", "{read_write:?}");
    assert_eq!(written.as_deref(), Some("from the plugin"));

    // A grant the plugin does not declare is refused at attach, saying which.
    let (status, body) = server.post_json("/v1/deployments", &deployment(json!({"http": ["127.0.0.1"]}))).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid_plugin")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("`http`"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_loops_hoards_panics_or_floods_fails_alone() {
    let llm = MockLlm::start().await;
    let (server, _config) = start_configured(&llm, "[plugins]\ncall_timeout_secs = 2\nmax_memory_mib = 32\n");
    let p = upload_ok(&server, "probe", guests::TEST_PLUGIN).await;
    let dep = create(
        &server,
        json!({"customer_id": "cus_b", "name": "B", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "plugins": [{"plugin_id": p["plugin_id"]}]}),
    )
    .await;
    for tool in ["spin", "hoard", "panic", "huge"] {
        llm.push(Reply::tool(format!("probe__{tool}"), json!({})));
    }
    llm.push(Reply::tool("probe__echo", json!({"text": "still alive"})));
    llm.push(Reply::text("survived"));
    let (_, run) = send(&server, &dep, "misbehave").await;
    assert_eq!(run["status"], "completed", "{run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert!(results[0].contains("ran longer than its limit of 2s"), "{results:?}");
    assert!(results[1].contains("exceeded its memory limit of 32 MiB"), "{results:?}");
    assert!(results[2].contains("trapped") && results[2].contains("panics on request"), "{results:?}");
    assert!(results[3].contains("the limit is 1 MiB"), "{results:?}");
    assert_eq!(results[4], "echo: still alive", "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_harness_plugin_runs_a_deployment_and_the_host_enforces_tool_policy() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let text = upload_ok(&server, "text", guests::EXAMPLE_PLUGIN).await;
    let harness = upload_ok(&server, "probe-harness", guests::TEST_HARNESS).await;
    assert_eq!(harness["world"], "harness", "{harness}");
    assert_eq!(harness["tools"], json!([]));
    let text_id = text["plugin_id"].as_str().unwrap();

    // The harness (named by its plugin name, or by id) calls host tools directly,
    // with no `tool-started`, no approval and no allowlist of its own.
    let deployment = |runtime: &str, prompt: &str, extra: Value| {
        let mut body = json!({"customer_id": "cus_h", "name": "H", "model": "openai/gpt-test", "runtime": runtime,
                              "system_prompt": prompt, "plugins": [{"plugin_id": text_id, "tools": ["slugify"]}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let slug = r#"call text__slugify {"title": "Harness Plugins Work"}"#;

    let dep = create(&server, deployment("probe-harness", slug, json!({}))).await;
    let (_, run) = send(&server, &dep, "go").await;
    assert_eq!(run["status"], "completed", "{run}");
    let shown = run.to_string();
    assert!(shown.contains("OK: harness-plugins-work"), "the harness plugin ran and called the tool: {run}");

    let by_id = harness["plugin_id"].as_str().unwrap();
    let dep = create(&server, deployment(by_id, r#"call text__word_count {"text": "a b"}"#, json!({}))).await;
    let (_, run) = send(&server, &dep, "go").await;
    assert!(run.to_string().contains("REFUSED: plugin `text` offers no tool `word_count`"), "allowlist: {run}");

    let dep = create(&server, deployment("probe-harness", slug, json!({"disabled_tools": ["text__slugify"]}))).await;
    let (_, run) = send(&server, &dep, "go").await;
    assert!(run.to_string().contains("REFUSED: tool `text__slugify` is disabled"), "disabled_tools: {run}");

    let gated = json!({"steering": {"require_approval": ["text__*"]}});
    let dep = create(&server, deployment("probe-harness", slug, gated)).await;
    let (_, run) = send(&server, &dep, "go").await;
    assert!(run.to_string().contains("REFUSED: tool `text__slugify` needs a human's approval"), "approval: {run}");

    // A runtime that names nothing is refused at create; a harness cannot be attached as tools.
    let (status, body) = server.post_json("/v1/deployments", &deployment("nope", slug, json!({}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["param"], "runtime");
    let mut bad = deployment("hermes", slug, json!({}));
    bad["plugins"] = json!([{"plugin_id": by_id}]);
    let (status, body) = server.post_json("/v1/deployments", &bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("runtime"), "{body}");
}

#[test]
fn plugin_check_and_plugin_new_work_from_the_command_line() {
    let bin = env!("CARGO_BIN_EXE_hermes-host");
    let out = std::process::Command::new(bin).args(["plugin", "check", guests::EXAMPLE_PLUGIN]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ok: tool-plugin of hermes:agent@0.1.0"), "{stdout}");
    assert!(stdout.contains("tool slugify: "), "{stdout}");
    let out = std::process::Command::new(bin).args(["plugin", "check", guests::COMMAND]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("error: the component implements neither"));

    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("shouty");
    let out =
        std::process::Command::new(bin).args(["plugin", "new", "shouty", "--dir"]).arg(&crate_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["Cargo.toml", "src/lib.rs", "README.md", "wit/worlds.wit", "wit/types.wit"] {
        assert!(crate_dir.join(f).is_file(), "{f}");
    }
    let again = std::process::Command::new(bin).args(["plugin", "new", "shouty", "--dir"]).arg(&crate_dir).output();
    assert!(!again.unwrap().status.success(), "refuses to overwrite");
    let bad = std::process::Command::new(bin).args(["plugin", "new", "Bad_Name"]).current_dir(dir.path()).output();
    assert!(!bad.unwrap().status.success());
}

/// The vendor's path from nothing: `plugin new`, one `cargo build`, `plugin check`,
/// upload, attach, and the model calls the tool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaffolded_plugin_builds_with_one_command_and_the_agent_calls_it() {
    let bin = env!("CARGO_BIN_EXE_hermes-host");
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("shouty");
    let out =
        std::process::Command::new(bin).args(["plugin", "new", "shouty", "--dir"]).arg(&crate_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A target dir kept between test runs: the first build compiles wit-bindgen once.
    let target = concat!(env!("CARGO_TARGET_TMPDIR"), "/plugin-scaffold");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = std::process::Command::new(cargo)
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(build.status.success(), "the scaffold builds: {}", String::from_utf8_lossy(&build.stderr));
    let wasm = format!("{target}/wasm32-wasip2/release/shouty.wasm");
    let check = std::process::Command::new(bin).args(["plugin", "check", &wasm]).output().unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && stdout.contains("tool shout: "), "{stdout}");
    assert!(stdout.contains("name shouty"), "the manifest section names it: {stdout}");

    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let (status, p) = upload(&server, &server.key, None, read(&wasm)).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["name"], "shouty", "named by its manifest: {p}");
    let dep = create(
        &server,
        json!({"customer_id": "cus_s", "name": "S", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "plugins": [{"plugin_id": p["plugin_id"]}]}),
    )
    .await;
    llm.push(Reply::tool("shouty__shout", json!({"text": "my tool ran"})));
    llm.push(Reply::text("done"));
    let (_, run) = send(&server, &dep, "shout it").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(common::tool_results(llm.requests().last().unwrap()), ["MY TOOL RAN"]);
}

/// A loopback HTTP server that records each request's `authorization` header and
/// answers with it (an echoing server: the host must scrub the answer).
async fn echo_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::HeaderMap;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
            record.lock().unwrap().push(auth.clone());
            format!("you sent: {auth}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("127.0.0.1:{}", addr.port()), seen)
}

/// The host binary with its log (at debug) in a file, private URLs allowed.
fn start_logged(llm: &MockLlm) -> (Server, std::path::PathBuf) {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let log_path = dir.path().join("host.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", llm.openai_base_url())
        .env("HERMES_ALLOW_PRIVATE_URLS", "1")
        .env("HERMES_LOG", "debug")
        .env("HERMES_CACHE_DIR", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let lines = common::watch_stdout(&mut child);
    let key = common::await_listening(&mut child, &lines, port).unwrap().expect("admin key");
    (Server { child, base: format!("http://127.0.0.1:{port}"), key, port, dir }, log_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_only_granted_hosts_and_secrets_stay_outside_the_sandbox() {
    const SECRET: &str = "tok-PLUGIN-9f3a1c77e2";
    let (authority, seen) = echo_server().await;
    let llm = MockLlm::start().await;
    let (server, log) = start_logged(&llm);
    let (status, secret) = server.post_json("/v1/secrets", &json!({"name": "api", "value": SECRET})).await;
    assert_eq!(status, 201, "{secret}");
    let p = upload_ok(&server, "fetch", guests::FETCH_PLUGIN).await;
    assert_eq!(p["capabilities"], json!(["http", "config"]), "{p}");
    let id = p["plugin_id"].as_str().unwrap();
    let body = |grants: Value| {
        json!({"customer_id": "cus_h", "name": "H", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "secrets": {"API_TOKEN": secret["id"]}, "plugins": [{"plugin_id": id, "grants": grants}]})
    };

    // It imports wasi:http and wasi:config, so attaching it without both grants is
    // refused, saying which.
    let (status, err) = server.post_json("/v1/deployments", &body(json!({"config": {"REGION": "eu"}}))).await;
    assert_eq!((status, err["error"].as_str()), (422, Some("invalid_plugin")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("wasi:http/"), "{err}");
    assert!(err["message"].as_str().unwrap().contains("`http` grant"), "{err}");
    let (status, err) = server.post_json("/v1/deployments", &body(json!({"http": [authority]}))).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["message"].as_str().unwrap().contains("wasi:config/store"), "{err}");

    let dep = create(&server, body(json!({"http": [authority], "config": {"REGION": "eu-west-3"}}))).await;
    llm.push(Reply::tool("fetch__config", json!({"key": "REGION"})));
    llm.push(Reply::tool("fetch__config", json!({"key": "API_TOKEN"})));
    let auth = json!({"authorization": "Bearer ${API_TOKEN}"});
    llm.push(Reply::tool("fetch__get", json!({"url": format!("http://{authority}/hello"), "headers": auth})));
    let port = authority.rsplit(':').next().unwrap();
    llm.push(Reply::tool("fetch__get", json!({"url": format!("http://localhost:{port}/other")})));
    llm.push(Reply::text("done"));
    let (run_id, run) = send(&server, &dep, "call the API").await;
    assert_eq!(run["status"], "completed", "{run}");

    // The server got the secret; the guest and the model saw it redacted.
    assert_eq!(seen.lock().unwrap().as_slice(), [format!("Bearer {SECRET}")], "only the granted host was reached");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(results[0], "eu-west-3", "the granted config value: {results:?}");
    assert!(results[1].contains("no config value"), "secrets are not config: {results:?}");
    assert!(results[2].starts_with("200\nyou sent: Bearer [REDACTED:API_TOKEN]"), "{results:?}");
    assert!(results[3].contains("does not grant HTTP to localhost"), "{results:?}");
    let evs = events(&server, &dep, &format!("\"run_id\":\"{run_id}\",\"status\":\"completed\"")).await;
    assert!(evs.iter().any(|(k, _)| k == "tool_result"));
    assert!(!format!("{evs:?}").contains(SECRET), "no event holds the secret");
    assert!(!llm.requests().iter().any(|r| r.to_string().contains(SECRET)), "the model never saw it");
    assert!(!std::fs::read_to_string(&log).unwrap().contains(SECRET), "the log never shows it");
    let hits = common::files_containing(server.dir.path(), SECRET.as_bytes());
    assert!(hits.is_empty(), "the secret is on disk in plain text: {hits:?}");
}

/// The Python example (componentize-py, CPython inside the component) end to end:
/// built by its own script, uploaded, attached, called by the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_plugin_built_with_componentize_py_answers_the_agent() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/python-plugin/build.sh");
    let out = concat!(env!("CARGO_TARGET_TMPDIR"), "/csv_tools.wasm");
    let built = std::process::Command::new("bash").arg(script).arg(out).output().expect("run build.sh");
    if !built.status.success() {
        // Only when PyPI is unreachable: say so loudly rather than pass in silence.
        let why = String::from_utf8_lossy(&built.stderr);
        assert!(why.contains("pip") || why.contains("venv"), "build.sh failed: {why}");
        eprintln!("SKIPPED: componentize-py could not be installed: {why}");
        return;
    }
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let p = upload_ok(&server, "csv", out).await;
    assert_eq!(p["tools"][0]["name"], "csv_total", "{p}");
    let dep = create(
        &server,
        json!({"customer_id": "cus_py", "name": "Py", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "plugins": [{"plugin_id": p["plugin_id"]}]}),
    )
    .await;
    let csv = "campaign,spend\nspring,120.5\nsummer,79.5\nautumn,300\n";
    llm.push(Reply::tool("csv__csv_total", json!({"csv": csv, "column": "spend"})));
    llm.push(Reply::tool("csv__csv_total", json!({"csv": csv, "column": "clicks"})));
    llm.push(Reply::text("done"));
    let (_, run) = send(&server, &dep, "total the spend").await;
    assert_eq!(run["status"], "completed", "{run}");
    let results = common::tool_results(llm.requests().last().unwrap());
    assert_eq!(results[0], "500", "{results:?}");
    assert!(results[1].contains("cannot total") && results[1].contains("clicks"), "{results:?}");
}
