//! The binary over HTTP: `hermes-host serve`, a real SSE stream, the contract's errors.

mod common;

use std::time::Duration;

use common::start;

use futures::StreamExt;
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_over_http_streams_running_tokens_message_completed() {
    let llm = MockLlm::start().await;
    let text = "Tokens arrive in order over server-sent events.";
    llm.push(Reply::text(text));
    let server = start(&llm);
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", server.key);

    let resp = http
        .post(format!("{}/v1/deployments", server.base))
        .header("Authorization", &auth)
        .json(&json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief."}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let dep: Value = resp.json().await.unwrap();
    let dep_id = dep["deployment_id"].as_str().unwrap().to_string();
    assert_eq!(dep["status"], "ready");
    assert_eq!(dep["events"]["transport"], "sse");

    let sse = http
        .get(format!("{}/v1/deployments/{dep_id}/events", server.base))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut body = sse.bytes_stream();

    let resp = http
        .post(format!("{}/v1/deployments/{dep_id}/messages", server.base))
        .header("Authorization", &auth)
        .json(&json!({"content": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let ticket: Value = resp.json().await.unwrap();
    let run_id = ticket["run_id"].as_str().unwrap().to_string();

    let mut buf = String::new();
    let mut seen: Vec<(String, Value)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    'outer: while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, body.next()).await {
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut kind = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    kind = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if data.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&data).unwrap();
            if v["run_id"] != run_id.as_str() {
                continue;
            }
            let done = kind == "run_status" && v["status"] != "running";
            seen.push((kind, v));
            if done {
                break 'outer;
            }
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    let first = kinds.iter().position(|k| *k == "run_status").expect("running");
    assert_eq!(seen[first].1["status"], "running");
    let tokens: String = seen.iter().filter(|(k, _)| k == "token").filter_map(|(_, v)| v["delta"].as_str()).collect();
    assert_eq!(tokens, text);
    let msg = seen.iter().position(|(k, v)| k == "message" && v["role"] == "agent").expect("agent message");
    let last_token = kinds.iter().rposition(|k| *k == "token").unwrap();
    assert!(first < last_token && last_token < msg, "{kinds:?}");
    assert_eq!(seen.last().unwrap().1["status"], "completed", "{kinds:?}");

    assert_eq!(server.wait_run(&dep_id, &run_id).await["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_the_contract_body() {
    let llm = MockLlm::start().await;
    let server = start(&llm);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/deployments", server.base);

    let r = http.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized");

    let r = http.post(&url).header("Authorization", "Bearer hk_wrong").json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let auth = format!("Bearer {}", server.key);
    let r = http
        .post(&url)
        .header("Authorization", &auth)
        .json(&json!({"name": "x", "system_prompt": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "validation_error");
    assert_eq!(body["param"], "customer_id");
    assert!(body["message"].as_str().unwrap().contains("customer_id"));

    let r = http
        .post(&url)
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = http.get(format!("{url}/dep_missing")).header("Authorization", &auth).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_need_no_key() {
    let llm = MockLlm::start().await;
    let server = start(&llm);
    for path in ["/healthz", "/readyz"] {
        let r = reqwest::get(format!("{}{path}", server.base)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let text = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    assert!(text.contains("hermes_deployments 0"), "{text}");
    assert!(text.contains("# TYPE hermes_instances_live gauge"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_and_offline_docs() {
    let llm = MockLlm::start().await;
    let server = start(&llm);
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.base)).await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert!(doc["paths"]["/v1/deployments"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let html = reqwest::get(format!("{}/docs", server.base)).await.unwrap().text().await.unwrap();
    assert!(html.contains("/openapi.json"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "docs fetch nothing from the internet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_promptly_even_with_an_open_event_stream() {
    let llm = MockLlm::start().await;
    let mut server = start(&llm);
    let http = reqwest::Client::new();
    let dep = server.create_deployment().await;
    let sse =
        http.get(format!("{}/v1/deployments/{dep}/events", server.base)).bearer_auth(&server.key).send().await.unwrap();
    assert_eq!(sse.status(), 200);
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(sse);
}

/// Issue 14, point 9: `/metrics` is not public. With `HERMES_METRICS_TOKEN` it needs
/// that bearer token; without one it answers loopback clients only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_metrics_token_when_one_is_set() {
    let llm = MockLlm::start().await;
    let server = common::start_with(&llm, &[("HERMES_METRICS_TOKEN", "mt-0123456789abcdef")]);
    let url = format!("{}/metrics", server.base);
    let http = reqwest::Client::new();
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("HERMES_METRICS_TOKEN"));
    let r = http.get(&url).bearer_auth("mt-wrong-0000000000").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // An API key is not the metrics token.
    assert_eq!(http.get(&url).bearer_auth(&server.key).send().await.unwrap().status(), 401);
    let r = http.get(&url).bearer_auth("mt-0123456789abcdef").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("hermes_"));
}

/// Issue 14, point 9: a client that trickles its headers (slowloris) is cut off at
/// the header-read timeout instead of holding its connection forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let llm = MockLlm::start().await;
    let server = common::start_with(&llm, &[("HERMES_HEADER_READ_TIMEOUT_MS", "500")]);
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    // Within a generous bound the server closes (or answers 408 and closes).
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the half-sent request was never cut off");
    // Whole requests are served as before.
    assert_eq!(reqwest::get(format!("{}/healthz", server.base)).await.unwrap().status(), 200);
}
