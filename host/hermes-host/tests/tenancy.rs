//! Per-tenant bounds through the HTTP API: a key over its request rate gets 429 with
//! `Retry-After` while other keys go on; an account cannot queue more runs or hold
//! more event streams than its bounds, and other accounts are not affected.

mod common;

use std::time::Duration;

use common::{Server, start_with};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

fn configured(llm: &MockLlm, toml: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hermes.toml");
    std::fs::write(&path, toml).unwrap();
    (start_with(llm, &[("HERMES_CONFIG", path.to_str().unwrap())]), dir)
}

/// A key of `account` (made with the CLI, credits granted).
fn key_of(server: &Server, account: &str) -> String {
    let dir = server.dir.path().to_str().unwrap();
    let key = common::cli(&["keys", "create", "--data-dir", dir, "--account", account, "--scopes", "*"]);
    common::cli(&["credits", "set", "100000", "--data-dir", dir, "--account", account]);
    key.trim().to_string()
}

async fn request(
    server: &Server,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Option<u64>, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.base);
    let mut req = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (r.status().as_u16(), retry, r.json().await.unwrap_or(Value::Null))
}

async fn deployment(server: &Server, key: &str, customer: &str) -> String {
    let body = json!({"customer_id": customer, "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief."});
    let (status, _, d) = request(server, "POST", "/v1/deployments", key, Some(body)).await;
    assert_eq!(status, 201, "{d}");
    d["deployment_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_request_rate_gets_429_with_retry_after_and_other_keys_go_on() {
    let llm = MockLlm::start().await;
    let (server, _cfg) = configured(&llm, "[tenants]\nrequests_per_second = 1\nrequest_burst = 3\n");
    let (a, b) = (key_of(&server, "acct_a"), key_of(&server, "acct_b"));
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let (status, retry, body) = request(&server, "GET", "/v1/deployments", &a, None).await;
        statuses.push(status);
        if status == 429 {
            limited = Some((retry, body));
        }
    }
    assert_eq!(&statuses[..3], [200, 200, 200], "the burst passes: {statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "then the key is limited: {statuses:?}");
    let (retry, body) = limited.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    let retry = retry.expect("a Retry-After header");
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // Another key is not slowed by the first one's flood.
    assert_eq!(request(&server, "GET", "/v1/deployments", &b, None).await.0, 200);
    // After the wait it says, the key is served again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(request(&server, "GET", "/v1/deployments", &a, None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_cannot_queue_more_runs_than_its_bound_and_others_are_not_affected() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::after_ms(1500, Reply::text("ok")));
    let (server, _cfg) =
        configured(&llm, "[sandbox]\nmax_concurrent_instances = 1\n\n[tenants]\nmax_queued_runs = 2\n");
    let (a, b) = (key_of(&server, "acct_a"), key_of(&server, "acct_b"));
    let dep = deployment(&server, &a, "cus_a").await;
    let other = deployment(&server, &b, "cus_b").await;
    let send = |key: String, dep: String, i: u32| {
        let server = &server;
        async move {
            let body = json!({"content": format!("job {i}"), "thread_id": "new"});
            request(server, "POST", &format!("/v1/deployments/{dep}/messages"), &key, Some(body)).await
        }
    };
    // The first run takes the only slot…
    let (status, _, first) = send(a.clone(), dep.clone(), 0).await;
    assert_eq!(status, 202, "{first}");
    let first_run = first["run_id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        let (_, _, run) = request(&server, "GET", &format!("/v1/deployments/{dep}/runs/{first_run}"), &a, None).await;
        if run["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …two more wait for it, and the next is refused.
    for i in 1..=2 {
        assert_eq!(send(a.clone(), dep.clone(), i).await.0, 202);
    }
    let (status, retry, body) = send(a.clone(), dep.clone(), 3).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(retry.is_some() && body["message"].as_str().unwrap().contains("2 runs waiting"), "{body}");
    // Another account queues as usual.
    let (status, _, ticket) = send(b.clone(), other.clone(), 0).await;
    assert_eq!(status, 202, "{ticket}");
    // Once the queue drains, the first account is served again.
    let other_run = ticket["run_id"].as_str().unwrap();
    let mut run = Value::Null;
    for _ in 0..200 {
        run = request(&server, "GET", &format!("/v1/deployments/{other}/runs/{other_run}"), &b, None).await.2;
        if run["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(send(a.clone(), dep.clone(), 4).await.0, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_cannot_hold_more_event_streams_than_its_bound() {
    let llm = MockLlm::start().await;
    let (server, _cfg) = configured(&llm, "[tenants]\nmax_event_streams = 2\n");
    let (a, b) = (key_of(&server, "acct_a"), key_of(&server, "acct_b"));
    let dep = deployment(&server, &a, "cus_a").await;
    let other = deployment(&server, &b, "cus_b").await;
    let open = |key: &str, dep: &str| {
        reqwest::Client::new().get(format!("{}/v1/deployments/{dep}/events", server.base)).bearer_auth(key).send()
    };
    let first = open(&a, &dep).await.unwrap();
    let second = open(&a, &dep).await.unwrap();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let third = open(&a, &dep).await.unwrap();
    assert_eq!(third.status().as_u16(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: Value = third.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("2 event streams"), "{body}");
    // Another account's streams are its own.
    assert_eq!(open(&b, &other).await.unwrap().status().as_u16(), 200);
    // A client that goes frees its slot.
    drop(first);
    let mut reopened = 0;
    for _ in 0..100 {
        reopened = open(&a, &dep).await.unwrap().status().as_u16();
        if reopened == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(reopened, 200, "the closed stream's slot was freed");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_instance_slot_goes_to_the_next_account_in_turn_not_to_the_longest_queue() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::after_ms(400, Reply::text("ok")));
    let (server, _cfg) = configured(&llm, "[sandbox]\nmax_concurrent_instances = 1\n");
    let (a, b) = (key_of(&server, "acct_a"), key_of(&server, "acct_b"));
    let dep = deployment(&server, &a, "cus_a").await;
    let other = deployment(&server, &b, "cus_b").await;
    let send = |key: &str, dep: &str, i: u32| {
        let body = json!({"content": format!("job {i}"), "thread_id": "new"});
        let (server, key, dep) = (&server, key.to_string(), dep.to_string());
        async move {
            let (status, _, t) =
                request(server, "POST", &format!("/v1/deployments/{dep}/messages"), &key, Some(body)).await;
            assert_eq!(status, 202, "{t}");
            t["run_id"].as_str().unwrap().to_string()
        }
    };
    // Account a fills the queue with five runs, then account b sends one.
    let mut a_runs = Vec::new();
    for i in 0..5 {
        a_runs.push(send(&a, &dep, i).await);
    }
    let b_run = send(&b, &other, 0).await;
    let status = |key: String, dep: String, run: String| {
        let server = &server;
        async move {
            request(server, "GET", &format!("/v1/deployments/{dep}/runs/{run}"), &key, None).await.2["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let mut a_done_when_b_done = None;
    for _ in 0..300 {
        if status(b.clone(), other.clone(), b_run.clone()).await == "completed" {
            let mut done = 0;
            for r in &a_runs {
                done += usize::from(status(a.clone(), dep.clone(), r.clone()).await == "completed");
            }
            a_done_when_b_done = Some(done);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // FIFO would run all five of a's first; fair turns run b's after at most two.
    let done = a_done_when_b_done.expect("b's run completed");
    assert!(done <= 2, "b waited behind {done} of a's runs");
}
