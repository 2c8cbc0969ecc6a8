//! Secrets, credits, usage and Idempotency-Key, through the binary over HTTP.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, cli, free_port};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// The secret value the tests look for everywhere.
const VALUE: &str = "xK9-super-SECRET-value-7731";

/// Starts `hermes-host serve` with stderr captured (to check no log line leaks).
fn start_captured(llm: &MockLlm) -> (Server, Arc<Mutex<String>>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", llm.openai_base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("ANTHROPIC_BASE_URL", llm.anthropic_base_url())
        .env("HERMES_LOG", "debug,wasmtime=info,cranelift=info,hyper=info,h2=info")
        .env_remove("HERMES_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hermes-host");
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let lines = common::watch_stdout(&mut child);
    let key = common::await_listening(&mut child, &lines, port)
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("the first start prints the admin key");
    (Server { child, base: format!("http://127.0.0.1:{port}"), key, port, dir }, log)
}

async fn call(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.base)).bearer_auth(&server.key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value, String) {
    call(server, reqwest::Method::POST, path, Some(body)).await
}

async fn get(server: &Server, path: &str) -> (u16, Value, String) {
    call(server, reqwest::Method::GET, path, None).await
}

fn deployment(secrets: Value) -> Value {
    json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.", "secrets": secrets})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_write_only_referenced_by_name_and_never_leak() {
    let llm = MockLlm::start().await;
    // The model "echoes" the secret value: the host must scrub it everywhere.
    llm.push(Reply::text(format!("Your token is {VALUE} — keep it safe.")));
    let (mut server, log) = start_captured(&llm);

    // Create: 201, id + name + created_at, never the value.
    let (status, s, text) = post(&server, "/v1/secrets", json!({"name": "meta-ads", "value": VALUE})).await;
    assert_eq!(status, 201, "{text}");
    let sec_id = s["id"].as_str().unwrap().to_string();
    assert!(sec_id.starts_with("sec_"));
    assert_eq!(s["name"], "meta-ads");
    assert!(s["created_at"].is_string());
    assert!(s.get("value").is_none() && !text.contains(VALUE));

    // A caller-chosen id (so the seed's `sec_meta_ads_token` can exist); taken → 409.
    let (status, s2, _) =
        post(&server, "/v1/secrets", json!({"id": "sec_meta_ads_token", "name": "other", "value": "v-222222"})).await;
    assert_eq!(status, 201);
    assert_eq!(s2["id"], "sec_meta_ads_token");
    let (status, e, _) =
        post(&server, "/v1/secrets", json!({"id": "sec_meta_ads_token", "name": "other", "value": "v-3"})).await;
    assert_eq!((status, e["error"].as_str()), (409, Some("conflict")));

    // Validation.
    let (status, e, _) = post(&server, "/v1/secrets", json!({"name": "bad name", "value": "x"})).await;
    assert_eq!((status, e["error"].as_str(), e["param"].as_str()), (400, Some("validation_error"), Some("name")));
    let (status, e, _) = post(&server, "/v1/secrets", json!({"name": "ok"})).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("value")));

    // List pages with limit/cursor; GET one; values never shown.
    let (status, page1, text1) = get(&server, "/v1/secrets?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(page1["data"].as_array().unwrap().len(), 1);
    let cursor = page1["next_cursor"].as_str().expect("a second page").to_string();
    let (_, page2, text2) = get(&server, &format!("/v1/secrets?limit=1&cursor={cursor}")).await;
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());
    let ids: Vec<&str> = [&page1, &page2].iter().map(|p| p["data"][0]["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&sec_id.as_str()) && ids.contains(&"sec_meta_ads_token"));
    assert!(!text1.contains(VALUE) && !text2.contains(VALUE));
    let (status, one, text) = get(&server, &format!("/v1/secrets/{sec_id}")).await;
    assert_eq!((status, one["name"].as_str()), (200, Some("meta-ads")));
    assert!(!text.contains(VALUE));
    assert_eq!(get(&server, "/v1/secrets/sec_nope").await.0, 404);

    // A deployment with an unknown ref: 422 naming the entry.
    let (status, e, _) =
        post(&server, "/v1/deployments", deployment(json!({"GOOD": sec_id, "META_ADS_TOKEN": "sec_x"}))).await;
    assert_eq!(status, 422);
    assert_eq!(
        e,
        json!({"error": "invalid_secret_ref", "message": "Secret reference sec_x does not exist", "param": "secrets.META_ADS_TOKEN"})
    );
    let (status, e, _) = post(&server, "/v1/deployments", deployment(json!({"meta-token": sec_id}))).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("secrets.meta-token")));

    // A known ref: 201; GET shows the names only.
    let (status, dep, text) = post(&server, "/v1/deployments", deployment(json!({"META_ADS_TOKEN": sec_id}))).await;
    assert_eq!(status, 201, "{text}");
    let dep_id = dep["deployment_id"].as_str().unwrap().to_string();
    let (_, got, text) = get(&server, &format!("/v1/deployments/{dep_id}")).await;
    assert_eq!(got["config"]["secrets"], json!(["META_ADS_TOKEN"]));
    assert!(!text.contains(VALUE));

    // PATCH validates refs too.
    let (status, e, _) = call(
        &server,
        reqwest::Method::PATCH,
        &format!("/v1/deployments/{dep_id}"),
        Some(json!({"secrets": {"OTHER": "sec_gone"}})),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str(), e["param"].as_str()),
        (422, Some("invalid_secret_ref"), Some("secrets.OTHER"))
    );

    // A referenced secret cannot be deleted; an unreferenced one can.
    let (status, e, _) = call(&server, reqwest::Method::DELETE, &format!("/v1/secrets/{sec_id}"), None).await;
    assert_eq!((status, e["error"].as_str()), (409, Some("conflict")), "{e}");
    let (status, d, _) = call(&server, reqwest::Method::DELETE, "/v1/secrets/sec_meta_ads_token", None).await;
    assert_eq!((status, d), (200, json!({"id": "sec_meta_ads_token", "deleted": true})));
    assert_eq!(get(&server, "/v1/secrets/sec_meta_ads_token").await.0, 404);

    // The model echoes the value: persisted message, events and run output are scrubbed.
    let (status, ticket, _) =
        post(&server, &format!("/v1/deployments/{dep_id}/messages"), json!({"content": "hi"})).await;
    assert_eq!(status, 202);
    let run_id = ticket["run_id"].as_str().unwrap().to_string();
    let stream = common::events_until_done(&server, &dep_id, &run_id).await;
    let run = server.wait_run(&dep_id, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    let output = run["output"].as_str().unwrap();
    assert!(output.contains("[REDACTED:META_ADS_TOKEN]"), "{output}");
    assert!(!output.contains(VALUE));
    assert!(stream.contains("[REDACTED:META_ADS_TOKEN]"), "{stream}");
    assert!(!stream.contains(VALUE), "the value leaked into an event:\n{stream}");
    // The token deltas, concatenated, carry the redaction too.
    let deltas: String = stream
        .split("\n\n")
        .filter(|f| f.contains("event: token"))
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"].as_str().map(str::to_string))
        .collect();
    assert!(deltas.contains("[REDACTED:META_ADS_TOKEN]"), "{deltas}");
    // The guest saw names only: nothing it sent the model held the value.
    assert!(!llm.requests().iter().any(|r| r.to_string().contains(VALUE)));

    // Not in the workspace, the database (file and WAL), or any log line.
    let hits = common::files_containing(server.dir.path(), VALUE.as_bytes());
    assert!(hits.is_empty(), "plaintext secret found in {hits:?}");
    let _ = server.child.kill();
    let _ = server.child.wait();
    let hits = common::files_containing(server.dir.path(), VALUE.as_bytes());
    assert!(hits.is_empty(), "plaintext secret found after stop in {hits:?}");
    let log = log.lock().unwrap().clone();
    assert!(!log.is_empty(), "stderr was captured");
    assert!(!log.contains(VALUE), "the value leaked into a log line");
    let key = std::fs::metadata(server.dir.path().join("master.key")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777, 0o600);
    assert_eq!(key.len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_gate_creation_messages_and_model_calls_and_usage_adds_up() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dir = server.dir.path().to_str().unwrap().to_string();

    let (status, dep, _) = post(&server, "/v1/deployments", deployment(json!({}))).await;
    assert_eq!(status, 201);
    let dep_id = dep["deployment_id"].as_str().unwrap().to_string();

    // Balance 0: no new deployments, no messages.
    assert_eq!(cli(&["credits", "set", "--data-dir", &dir, "0"]).trim(), "0");
    let (status, e, _) = post(&server, "/v1/deployments", deployment(json!({}))).await;
    assert_eq!((status, e["error"].as_str()), (402, Some("insufficient_credits")), "{e}");
    let (status, e, _) = post(&server, &format!("/v1/deployments/{dep_id}/messages"), json!({"content": "hi"})).await;
    assert_eq!((status, e["error"].as_str()), (402, Some("insufficient_credits")));

    // Balance 1: the first model call is charged (far more than 1 credit), so the
    // run's next call is refused and the run ends in error.
    cli(&["credits", "set", "--data-dir", &dir, "1"]);
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    llm.push(Reply::text("never reached"));
    let (status, ticket, _) =
        post(&server, &format!("/v1/deployments/{dep_id}/messages"), json!({"content": "go"})).await;
    assert_eq!(status, 202);
    let run_id = ticket["run_id"].as_str().unwrap();
    let run = server.wait_run(&dep_id, run_id).await;
    assert_eq!(run["status"], "error", "{run}");
    let message = run["error"]["message"].as_str().unwrap();
    assert!(message.contains("insufficient credits"), "{message}");
    assert_eq!(llm.requests().len(), 1, "the second call never reached the provider");

    // Usage: by deployment and model, matching the run's counters and the debit.
    let (input, output) =
        (run["usage"]["input_tokens"].as_u64().unwrap(), run["usage"]["output_tokens"].as_u64().unwrap());
    assert!(input > 0 && output > 0);
    let (status, usage, _) = get(&server, "/v1/usage").await;
    assert_eq!(status, 200);
    let credits = (input + output) as i64; // default pricing: 1 credit per token each way
    assert_eq!(
        usage["data"],
        json!([{"deployment_id": dep_id, "model": "openai/gpt-test", "input_tokens": input, "output_tokens": output, "credits": credits}])
    );
    assert_eq!(usage["total"], json!({"input_tokens": input, "output_tokens": output, "credits": credits}));
    let (_, account, _) = get(&server, "/v1/account").await;
    assert_eq!(account["credits"], json!(0), "charged down to zero, never below (the ledger keeps the real cost)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_never_overdraw_the_balance() {
    let llm = MockLlm::start().await;
    // Slow enough that both runs' model calls overlap.
    llm.set_default(Reply::after_ms(800, Reply::text("one two three four five")));
    let server = common::start(&llm);
    let dir = server.dir.path().to_str().unwrap().to_string();
    let (status, d, _) = post(&server, "/v1/deployments", deployment(json!({}))).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();
    // 1,000 credits; one call costs more (its request alone is thousands of tokens).
    cli(&["credits", "set", "--data-dir", &dir, "1000"]);
    let path = format!("/v1/deployments/{dep}/messages");
    let (first, second) = tokio::join!(
        post(&server, &path, json!({"content": "a", "thread_id": "new"})),
        post(&server, &path, json!({"content": "b", "thread_id": "new"})),
    );
    assert_eq!((first.0, second.0), (202, 202), "{first:?} {second:?}");
    let mut outcomes = Vec::new();
    for t in [first.1, second.1] {
        let run = server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
        outcomes.push((run["status"].as_str().unwrap().to_string(), run["error"]["message"].clone()));
    }
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(outcomes[0].0, "completed", "{outcomes:?}");
    assert_eq!(outcomes[1].0, "error", "the second call found the credits held: {outcomes:?}");
    assert!(outcomes[1].1.as_str().unwrap().contains("insufficient credits"), "{outcomes:?}");
    assert_eq!(llm.requests().len(), 1, "only one call reached the provider");
    let (_, account, _) = get(&server, "/v1/account").await;
    assert_eq!(account["credits"], json!(0), "the balance never went below zero: {account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_conflict_and_never_run_twice() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let http = reqwest::Client::new();
    let send = |key: &str, body: Value| {
        http.post(format!("{}/v1/secrets", server.base))
            .bearer_auth(&server.key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };

    let first = send("k-1", json!({"name": "a", "value": "value-a-123"})).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = send("k-1", json!({"name": "a", "value": "value-a-123"})).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first, "the first answer, replayed");

    let other = send("k-1", json!({"name": "b", "value": "value-b-123"})).await.unwrap();
    assert_eq!(other.status(), 409);
    let e: Value = other.json().await.unwrap();
    assert_eq!(e["error"], "conflict");
    assert!(e["message"].as_str().unwrap().starts_with("Idempotency-Key reused with a different request"), "{e}");

    // Errors are replayed too (a 4xx is an answer); a bad key is a 400.
    let bad = send("k-2", json!({"name": "bad name", "value": "v"})).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(send("k-2", json!({"name": "bad name", "value": "v"})).await.unwrap().status(), 400);
    assert_eq!(
        send("bad key\u{7f}", json!({"name": "c", "value": "v"})).await.map(|r| r.status().as_u16()).unwrap_or(400),
        400
    );

    // Concurrent duplicates: exactly one executes; the others replay or see 409 in progress.
    let body = json!({"customer_id": "c", "name": "n", "system_prompt": "p"});
    let attempts = (0..6).map(|_| {
        http.post(format!("{}/v1/deployments", server.base))
            .bearer_auth(&server.key)
            .header("Idempotency-Key", "dep-once")
            .json(&body)
            .send()
    });
    let mut ids = std::collections::BTreeSet::new();
    for r in futures::future::join_all(attempts).await {
        let r = r.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        match status {
            201 => {
                ids.insert(v["deployment_id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(v["message"], "a request with this Idempotency-Key is in progress"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(ids.len(), 1, "one deployment created: {ids:?}");
    let (_, list, _) = get(&server, "/v1/deployments").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (_, secrets, _) = get(&server, "/v1/secrets").await;
    assert_eq!(secrets["data"].as_array().unwrap().len(), 1, "k-1 created one secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_comes_from_the_env_and_a_bad_or_changed_one_stops_startup() {
    let llm = MockLlm::start().await;
    let serve = |dir: &Path, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_hermes-host"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
            .arg(dir)
            .env("HERMES_MASTER_KEY", key)
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), "not-a-key");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HERMES_MASTER_KEY") && err.contains("64 hex"), "{err}");

    // A valid env key: no master.key file; secrets encrypted under it.
    let key_a = "11".repeat(32);
    let port = free_port();
    let (mut child, admin) = common::spawn(&llm, dir.path(), port, &[("HERMES_MASTER_KEY", &key_a)]);
    let admin = admin.expect("admin key");
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/secrets"))
        .bearer_auth(&admin)
        .json(&json!({"name": "n", "value": "value-123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let _ = child.kill();
    let _ = child.wait();
    assert!(!dir.path().join("master.key").exists());

    // Another key cannot decrypt them: a clear startup error.
    let out = serve(dir.path(), &"22".repeat(32));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key does not match"), "{err}");
    // The original key (base64 form this time) starts fine.
    let b64 = "ERERERERERERERERERERERERERERERERERERERERERE=";
    let port = free_port();
    let (mut child, _) = common::spawn(&llm, dir.path(), port, &[("HERMES_MASTER_KEY", b64)]);
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/secrets"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

/// Issue 14, point 9: the operator limits which model providers an account may use;
/// a deployment naming another is refused, and runs of older deployments stop at the
/// model call with a clear error once the list narrows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_uses_only_the_providers_its_operator_allows() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("hello"));
    let server = common::start(&llm);
    let dir = server.dir.path().to_str().unwrap().to_string();
    let body = |model: &str| json!({"customer_id": "c", "name": "P", "model": model, "system_prompt": "x"});
    let (status, d) = server.post_json("/v1/deployments", &body("openai/gpt-test")).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();
    assert_eq!(common::cli(&["providers", "show", "--data-dir", &dir]).trim(), "any");

    common::cli(&["providers", "set", "anthropic", "--data-dir", &dir]);
    assert_eq!(common::cli(&["providers", "show", "--data-dir", &dir]).trim(), "anthropic");
    let (status, e) = server.post_json("/v1/deployments", &body("openai/gpt-test")).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("model")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("\"openai\" is not enabled"), "{e}");
    let (status, d2) = server.post_json("/v1/deployments", &body("anthropic/claude-test")).await;
    assert_eq!(status, 201, "{d2}");
    // The deployment made before the change cannot call its model any more.
    let (status, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "hi"})).await;
    assert_eq!(status, 202, "{t}");
    let run = server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "error", "{run}");
    assert!(run["error"].to_string().contains("not enabled for this account"), "{run}");

    common::cli(&["providers", "set", "any", "--data-dir", &dir]);
    let (status, _) = server.post_json("/v1/deployments", &body("openai/gpt-test")).await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_held_by_a_call_a_crash_interrupted_are_given_back_at_the_next_start() {
    let llm = MockLlm::start().await;
    llm.push(Reply::after_ms(30_000, Reply::text("never delivered")));
    llm.set_default(Reply::text("done"));
    let mut server = common::start(&llm);
    let dir = server.dir.path().to_str().unwrap().to_string();
    let (status, d, _) = post(&server, "/v1/deployments", deployment(json!({}))).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();
    cli(&["credits", "set", "--data-dir", &dir, "1000000"]);
    let (status, ticket, _) = post(&server, &format!("/v1/deployments/{dep}/messages"), json!({"content": "go"})).await;
    assert_eq!(status, 202);
    // The call is in flight: its estimate is held.
    for _ in 0..400 {
        if !llm.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, account, _) = get(&server, "/v1/account").await;
    let held = 1_000_000 - account["credits"].as_i64().unwrap();
    assert!(held > 0, "the call in flight holds credits: {account}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let (child, _) = common::spawn(&llm, server.dir.path(), server.port, &[]);
    server.child = child;
    // The run resumes and its new call is charged; the interrupted one never was.
    let run = server.wait_run(&dep, ticket["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    let (_, usage, _) = get(&server, "/v1/usage").await;
    let charged = usage["total"]["credits"].as_i64().unwrap();
    let (_, account, _) = get(&server, "/v1/account").await;
    assert_eq!(account["credits"].as_i64().unwrap(), 1_000_000 - charged, "the hold came back: {account} {usage}");
}
