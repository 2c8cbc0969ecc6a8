//! Secrets stay where they are bound (issue 14, defect 4): a key that may only edit
//! deployments cannot point a secret at a server of its choosing, and a secret with
//! `allowed_hosts` is never sent anywhere else — not in MCP headers, not by a
//! plugin's HTTP — whoever configured the deployment. Real binary, real loopback
//! servers that record what reaches them.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Server;
use hermes_tests::guests;
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

const SECRET: &str = "tok-ROUTE-51b0e2aa93";

/// A loopback server recording every `authorization` header it is sent.
async fn recorder() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let record = record.clone();
        async move {
            if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
                record.lock().unwrap().push(v.to_string());
            }
            "not an MCP server"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("127.0.0.1:{port}"), seen)
}

async fn request(server: &Server, key: &str, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn key(server: &Server, scopes: &str) -> String {
    let dir = server.dir.path().to_str().unwrap();
    common::cli(&["keys", "create", "--data-dir", dir, "--scopes", scopes]).trim().to_string()
}

/// Polls GET until the MCP server's status settles; returns it.
async fn mcp_status(server: &Server, dep: &str) -> Value {
    for _ in 0..200 {
        let d = server.get_json(&format!("/v1/deployments/{dep}")).await;
        let s = d["mcp_servers"][0].clone();
        if s["status"] != "connecting" {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the MCP server of {dep} never settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployments_write_key_cannot_route_a_secret_to_its_own_server() {
    let (theirs, seen_theirs) = recorder().await;
    let (attacker, seen_attacker) = recorder().await;
    let llm = MockLlm::start().await;
    let server = common::start_with(&llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1")]);
    let (status, secret) = server.post_json("/v1/secrets", &json!({"name": "crm", "value": SECRET})).await;
    assert_eq!(status, 201, "{secret}");
    let mcp = |authority: &str| json!([{"name": "crm", "url": format!("http://{authority}/mcp"), "headers": {"Authorization": "Bearer ${CRM}"}}]);
    let body = json!({"customer_id": "c", "name": "A", "system_prompt": "x", "secrets": {"CRM": secret["id"]}, "mcp_servers": mcp(&theirs)});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();
    mcp_status(&server, &dep).await;
    let got = seen_theirs.lock().unwrap().clone();
    assert!(
        !got.is_empty() && got.iter().all(|h| *h == format!("Bearer {SECRET}")),
        "the configured server got it: {got:?}"
    );

    let editor = key(&server, "deployments:write,deployments:read");
    let path = format!("/v1/deployments/{dep}");
    // Pointing the server (and its secret header) elsewhere needs secrets:write.
    let (status, err) =
        request(&server, &editor, reqwest::Method::PATCH, &path, json!({"mcp_servers": mcp(&attacker)})).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"], "forbidden");
    assert!(err["message"].as_str().unwrap().contains("secrets:write"), "{err}");
    // So does a new deployment that sends the secret anywhere.
    let mut fresh = body.clone();
    fresh["mcp_servers"] = mcp(&attacker);
    let (status, err) = request(&server, &editor, reqwest::Method::POST, "/v1/deployments", fresh).await;
    assert_eq!(status, 403, "{err}");
    // Rebinding the header's name to another secret is a new route too.
    let (_, other) = server.post_json("/v1/secrets", &json!({"name": "other", "value": "tok-OTHER-0000000000"})).await;
    let (status, err) =
        request(&server, &editor, reqwest::Method::PATCH, &path, json!({"secrets": {"CRM": other["id"]}})).await;
    assert_eq!(status, 403, "{err}");
    // Edits that route nothing new stay open to the editor.
    let (status, d) = request(&server, &editor, reqwest::Method::PATCH, &path, json!({"system_prompt": "y"})).await;
    assert_eq!(status, 200, "{d}");
    let (status, d) =
        request(&server, &editor, reqwest::Method::PATCH, &path, json!({"mcp_servers": mcp(&theirs)})).await;
    assert_eq!(status, 200, "the same destination again: {d}");
    // A plugin `http` grant on a deployment holding secrets is a route.
    let (status, p) = {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/plugins?name=fetch", server.base))
            .bearer_auth(&server.key)
            .header("content-type", "application/wasm")
            .body(std::fs::read(guests::FETCH_PLUGIN).unwrap())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 201, "{p}");
    let grant =
        json!({"plugins": [{"plugin_id": p["plugin_id"], "grants": {"http": [attacker], "config": {"A": "b"}}}]});
    let (status, err) = request(&server, &editor, reqwest::Method::PATCH, &path, grant.clone()).await;
    assert_eq!(status, 403, "{err}");
    assert!(err["message"].as_str().unwrap().contains("plugin"), "{err}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen_attacker.lock().unwrap().is_empty(), "nothing reached the attacker's server");
    // With secrets:write the same change is allowed.
    let admin = key(&server, "deployments:write,deployments:read,secrets:write");
    let (status, d) = request(&server, &admin, reqwest::Method::PATCH, &path, grant).await;
    assert_eq!(status, 200, "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_bound_to_hosts_is_never_sent_elsewhere() {
    let (elsewhere, seen) = recorder().await;
    let llm = MockLlm::start().await;
    let server = common::start_with(&llm, &[("HERMES_ALLOW_PRIVATE_URLS", "1")]);
    let (status, secret) = server
        .post_json("/v1/secrets", &json!({"name": "crm", "value": SECRET, "allowed_hosts": ["api.crm.example"]}))
        .await;
    assert_eq!(status, 201, "{secret}");
    assert_eq!(secret["allowed_hosts"], json!(["api.crm.example"]), "{secret}");
    let (status, bad) =
        server.post_json("/v1/secrets", &json!({"name": "x", "value": "v-123456", "allowed_hosts": ["a b"]})).await;
    assert_eq!((status, bad["param"].as_str()), (400, Some("allowed_hosts")), "{bad}");

    // The admin itself configures a server elsewhere: the host refuses to send the secret.
    let body = json!({"customer_id": "c", "name": "A", "model": "openai/gpt-test", "system_prompt": "x",
        "secrets": {"CRM": secret["id"]},
        "mcp_servers": [{"name": "crm", "url": format!("http://{elsewhere}/mcp"), "headers": {"Authorization": "Bearer ${CRM}"}}]});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    let dep = d["deployment_id"].as_str().unwrap().to_string();
    let s = mcp_status(&server, &dep).await;
    assert_eq!(s["status"], "error", "{s}");
    assert!(s["error"]["message"].as_str().unwrap().contains("may not be sent to 127.0.0.1"), "{s}");

    // A plugin granted that host cannot put it in a header either.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/plugins?name=fetch", server.base))
        .bearer_auth(&server.key)
        .header("content-type", "application/wasm")
        .body(std::fs::read(guests::FETCH_PLUGIN).unwrap())
        .send()
        .await
        .unwrap();
    let p: Value = r.json().await.unwrap();
    let grant = json!({"plugins": [{"plugin_id": p["plugin_id"], "grants": {"http": [elsewhere], "config": {"A": "b"}}}], "mcp_servers": []});
    let (status, d) =
        request(&server, &server.key, reqwest::Method::PATCH, &format!("/v1/deployments/{dep}"), grant).await;
    assert_eq!(status, 200, "{d}");
    let auth = json!({"authorization": "Bearer ${CRM}"});
    llm.push(Reply::tool("fetch__get", json!({"url": format!("http://{elsewhere}/x"), "headers": auth})));
    llm.push(Reply::text("done"));
    let (status, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "go"})).await;
    assert_eq!(status, 202, "{t}");
    let run = server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    let last = llm.requests().last().unwrap().to_string();
    assert!(last.contains("may not be sent to 127.0.0.1"), "{last}");
    assert!(seen.lock().unwrap().is_empty(), "the secret never left: {:?}", seen.lock().unwrap());

    // Binding it to that host (secrets:write) lets it through.
    let (status, s) = request(
        &server,
        &server.key,
        reqwest::Method::PATCH,
        &format!("/v1/secrets/{}", secret["id"].as_str().unwrap()),
        json!({"allowed_hosts": [elsewhere]}),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    let auth = json!({"authorization": "Bearer ${CRM}"});
    llm.push(Reply::tool("fetch__get", json!({"url": format!("http://{elsewhere}/x"), "headers": auth})));
    llm.push(Reply::text("done"));
    let (_, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "again"})).await;
    let run = server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(seen.lock().unwrap().as_slice(), [format!("Bearer {SECRET}")]);
}
