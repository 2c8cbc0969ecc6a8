//! Steering through the real binary: approval policies, `waiting_on_human` runs that
//! hold nothing, decisions (also across a kill -9), messages and steers as the human's
//! answer, cancel while waiting, timeouts, `ask_human`, and `features.steering: false`.

mod common;

use std::time::Duration;

use common::{Server, file, spawn, start};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

async fn create(server: &Server, extra: Value) -> String {
    let mut body =
        json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief."});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    d["deployment_id"].as_str().unwrap().to_string()
}

async fn send(server: &Server, dep: &str, content: &str) -> Value {
    let (status, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": content})).await;
    assert_eq!(status, 202, "{t}");
    t
}

async fn pending(server: &Server, dep: &str) -> Vec<Value> {
    let page = server.get_json(&format!("/v1/deployments/{dep}/approvals?status=pending")).await;
    page["data"].as_array().unwrap_or_else(|| panic!("{page}")).clone()
}

async fn decide(server: &Server, dep: &str, aid: &str, body: Value) -> (u16, Value) {
    server.post_json(&format!("/v1/deployments/{dep}/approvals/{aid}"), &body).await
}

/// Tool messages the model saw in request `req` answering `call_id`.
fn tool_results<'a>(req: &'a Value, call_id: &str) -> Vec<&'a str> {
    req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool" && m["tool_call_id"] == call_id)
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect()
}

fn offered_tools(req: &Value) -> Vec<String> {
    req["tools"]
        .as_array()
        .map(|t| t.iter().map(|t| t["function"]["name"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

fn gated() -> Value {
    json!({"steering": {"require_approval": ["write_*", "prism-media__generate_*"]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_survives_kill_9_and_approving_runs_the_tool_exactly_once() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "approved content"})));
    llm.push(Reply::text("Written."));
    let mut server = start(&llm);
    let dep = create(&server, gated()).await;
    let run = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;

    let list = pending(&server, &dep).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let approval = &list[0];
    let aid = approval["approval_id"].as_str().unwrap().to_string();
    assert!(aid.starts_with("apr_"));
    assert_eq!(approval["tool"], "write_file");
    assert_eq!(approval["arguments"]["path"], "a.txt");
    assert_eq!(approval["run_id"], run.as_str());
    assert!(approval["summary"].as_str().unwrap().contains("write_file"));
    assert_eq!(file(&server, &dep, "a.txt").await.0, 404, "nothing runs before the decision");
    // A waiting run holds no instance.
    let mut live = String::new();
    for _ in 0..100 {
        let text = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
        live = text.lines().find(|l| l.starts_with("hermes_instances_live ")).unwrap_or_default().to_string();
        if live == "hermes_instances_live 0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(live, "hermes_instances_live 0");

    // The steering_request event carries the SPEC's fields; the run_status says waiting.
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let req = log.iter().find(|f| f.event == "steering_request").expect("steering_request event");
    assert_eq!(req.data["run_id"], run.as_str());
    assert_eq!(req.data["approval_id"], aid.as_str());
    assert_eq!(req.data["tool"], "write_file");
    assert_eq!(req.data["arguments"]["content"], "approved content");
    assert!(req.data["summary"].is_string());
    assert!(log.iter().any(|f| f.event == "run_status" && f.data["status"] == "waiting_on_human"));

    // kill -9 while the approval is pending.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let port = common::free_port();
    let (child, _) = spawn(&llm, server.dir.path(), port, &[]);
    server.child = child;
    server.base = format!("http://127.0.0.1:{port}");

    // Still pending, and the restart did not resume the waiting run on its own.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = pending(&server, &dep).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["approval_id"], aid.as_str());
    let r = server.get_json(&format!("/v1/deployments/{dep}/runs/{run}")).await;
    assert_eq!(r["status"], "waiting_on_human", "{r}");
    assert_eq!(llm.requests().len(), 1, "no model call while waiting");

    let (status, decided) = decide(&server, &dep, &aid, json!({"decision": "approve", "comment": "fine"})).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["comment"], "fine");
    let done = server.wait_status(&dep, &run, "completed").await;
    assert_eq!(done["output"], "Written.");
    assert_eq!(file(&server, &dep, "a.txt").await, (200, "approved content".to_string()));

    // Executed once: one result for the call, in the log and in what the model saw.
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2);
    let results = tool_results(&reqs[1], "call_1");
    assert_eq!(results.len(), 1, "{}", reqs[1]);
    assert!(!results[0].contains("not executed"), "{}", results[0]);
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    assert_eq!(log.iter().filter(|f| f.event == "tool_result").count(), 1);

    // Deciding twice is a conflict, with the documented error body.
    let (status, body) = decide(&server, &dep, &aid, json!({"decision": "reject"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    assert!(pending(&server, &dep).await.is_empty());
    let one = server.get_json(&format!("/v1/deployments/{dep}/approvals/{aid}")).await;
    assert_eq!(one["status"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_right_after_approving_still_executes_the_call_at_most_once() {
    let llm = MockLlm::start().await;
    // A non-idempotent edit: run twice, the file would read "v1++".
    llm.push(Reply::tool("edit_file", json!({"path": "a.txt", "old_string": "v1", "new_string": "v1+"})));
    llm.push(Reply::text("Edited."));
    let mut server = start(&llm);
    let dep = create(&server, json!({"steering": {"require_approval": ["edit_file"]}})).await;
    let r = reqwest::Client::new()
        .put(format!("{}/v1/deployments/{dep}/files", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"path": "a.txt", "content": "v1"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let run = send(&server, &dep, "edit a.txt").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;
    let aid = pending(&server, &dep).await[0]["approval_id"].as_str().unwrap().to_string();

    // The decision is durable when the 200 arrives; the kill lands before or during
    // the resumed instance.
    assert_eq!(decide(&server, &dep, &aid, json!({"decision": "approve"})).await.0, 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let port = common::free_port();
    let (child, _) = spawn(&llm, server.dir.path(), port, &[]);
    server.child = child;
    server.base = format!("http://127.0.0.1:{port}");

    server.wait_status(&dep, &run, "completed").await;
    let (_, content) = file(&server, &dep, "a.txt").await;
    let reqs = llm.requests();
    let results = tool_results(reqs.last().unwrap(), "call_1");
    assert_eq!(results.len(), 1, "one result for the call");
    if results[0].contains("interrupted") {
        // Killed between `tool_started` and the result: reported, never re-run.
        assert!(content == "v1" || content == "v1+", "{content}");
    } else {
        assert_eq!(content, "v1+", "the approved call ran exactly once: {}", results[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_and_its_comment_reach_the_model_and_the_tool_never_runs() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    llm.push(Reply::text("Understood, not writing."));
    let server = start(&llm);
    let dep = create(&server, gated()).await;
    let run = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;
    let aid = pending(&server, &dep).await[0]["approval_id"].as_str().unwrap().to_string();

    let (status, d) = decide(&server, &dep, &aid, json!({"decision": "reject", "comment": "too risky today"})).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["status"], "rejected");
    server.wait_status(&dep, &run, "completed").await;
    let reqs = llm.requests();
    let results = tool_results(&reqs[1], "call_1");
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("not executed") && results[0].contains("too risky today"), "{}", results[0]);
    assert_eq!(file(&server, &dep, "a.txt").await.0, 404);
    assert_eq!(decide(&server, &dep, &aid, json!({"decision": "approve"})).await.0, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_while_waiting_is_the_answer_and_the_gated_call_is_not_executed() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    llm.push(Reply::text("OK, I will use b.txt next time."));
    let server = start(&llm);
    let dep = create(&server, gated()).await;
    let run = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;
    let aid = pending(&server, &dep).await[0]["approval_id"].as_str().unwrap().to_string();

    let t = send(&server, &dep, "No, do not write a.txt; use b.txt instead.").await;
    assert_eq!(t["run_id"], run.as_str(), "the message answers the waiting run");
    assert_eq!((t["status"].as_str(), t["queued"].as_bool()), (Some("running"), Some(true)), "hosted statuses: {t}");
    server.wait_status(&dep, &run, "completed").await;

    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2);
    let msgs = reqs[1]["messages"].as_array().unwrap();
    let tool_at = msgs.iter().position(|m| m["role"] == "tool" && m["tool_call_id"] == "call_1").unwrap();
    assert!(msgs[tool_at]["content"].as_str().unwrap().contains("not executed"), "{}", msgs[tool_at]);
    let user_at = msgs.iter().rposition(|m| m["role"] == "user").unwrap();
    assert!(msgs[user_at]["content"].as_str().unwrap().contains("use b.txt instead"));
    assert!(user_at > tool_at, "the answer follows the call's result: {msgs:?}");
    assert_eq!(file(&server, &dep, "a.txt").await.0, 404, "not executed without an explicit approval");
    let a = server.get_json(&format!("/v1/deployments/{dep}/approvals/{aid}")).await;
    assert_eq!(a["status"], "superseded");
    assert_eq!(decide(&server, &dep, &aid, json!({"decision": "approve"})).await.0, 409, "too late to approve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steer_reaches_running_and_waiting_runs_and_a_finished_run_is_409() {
    let llm = MockLlm::start().await;
    // Run 1: steered while running (its model call is slow), then completes.
    llm.push(Reply::after_ms(600, Reply::tool("read_file", json!({"path": "none.txt"}))));
    llm.push(Reply::text("Noted the steer."));
    let server = start(&llm);
    let dep = create(&server, gated()).await;
    let run = send(&server, &dep, "look around").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "running").await;
    let steer = format!("/v1/deployments/{dep}/runs/{run}/steer");
    let (status, t) = server.post_json(&steer, &json!({"content": "also check b.txt"})).await;
    assert_eq!(status, 202, "{t}");
    assert_eq!(t["run_id"], run.as_str());
    server.wait_status(&dep, &run, "completed").await;
    let reqs = llm.requests();
    let last_user = reqs[1]["messages"].as_array().unwrap().iter().rev().find(|m| m["role"] == "user").unwrap();
    assert!(last_user["content"].as_str().unwrap().contains("also check b.txt"), "{}", reqs[1]);

    // A finished run cannot be steered; an empty steer is a 400.
    let (status, body) = server.post_json(&steer, &json!({"content": "too late"})).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")), "{body}");

    // Run 2: waiting on a human; a steer answers it like a message does.
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    llm.push(Reply::text("Skipped."));
    let run2 = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run2, "waiting_on_human").await;
    let steer2 = format!("/v1/deployments/{dep}/runs/{run2}/steer");
    let (status, body) = server.post_json(&steer2, &json!({"content": "  "})).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("content")), "{body}");
    let (status, t) = server.post_json(&steer2, &json!({"content": "skip the write"})).await;
    assert_eq!((status, t["status"].as_str()), (202, Some("queued")), "{t}");
    server.wait_status(&dep, &run2, "completed").await;
    assert_eq!(file(&server, &dep, "a.txt").await.0, 404);
    assert!(pending(&server, &dep).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_waiting_ends_the_run_and_closes_its_approval() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    let server = start(&llm);
    let dep = create(&server, gated()).await;
    let run = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;
    let aid = pending(&server, &dep).await[0]["approval_id"].as_str().unwrap().to_string();

    let (status, c) = server.post_json(&format!("/v1/deployments/{dep}/runs/{run}/cancel"), &json!({})).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("cancelled")), "{c}");
    server.wait_status(&dep, &run, "cancelled").await;
    let a = server.get_json(&format!("/v1/deployments/{dep}/approvals/{aid}")).await;
    assert_eq!(a["status"], "cancelled");
    assert_eq!(decide(&server, &dep, &aid, json!({"decision": "approve"})).await.0, 409);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = server.get_json(&format!("/v1/deployments/{dep}/runs/{run}")).await;
    assert_eq!(r["status"], "cancelled");
    assert_eq!(llm.requests().len(), 1);
    assert_eq!(file(&server, &dep, "a.txt").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_steering_off_the_policy_is_ignored_and_ask_human_is_not_offered() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "direct"})));
    llm.push(Reply::text("Done."));
    let server = start(&llm);
    let dep =
        create(&server, json!({"features": {"steering": false}, "steering": {"require_approval": ["write_file"]}}))
            .await;
    let run = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    let done = server.wait_run(&dep, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(file(&server, &dep, "a.txt").await, (200, "direct".to_string()));
    let all = server.get_json(&format!("/v1/deployments/{dep}/approvals")).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 0);
    assert!(!offered_tools(&llm.requests()[0]).contains(&"ask_human".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_human_round_trip() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("ask_human", json!({"question": "Send the invoice to ACME now?"})));
    llm.push(Reply::text("Sending it."));
    let server = start(&llm);
    let dep = create(&server, json!({})).await;
    let run = send(&server, &dep, "handle the ACME invoice").await["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;
    assert!(offered_tools(&llm.requests()[0]).contains(&"ask_human".to_string()));
    let list = pending(&server, &dep).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["tool"], "ask_human");
    assert_eq!(list[0]["summary"], "Send the invoice to ACME now?");
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let req = log.iter().find(|f| f.event == "steering_request").unwrap();
    assert_eq!(req.data["summary"], "Send the invoice to ACME now?");

    let aid = list[0]["approval_id"].as_str().unwrap();
    let (status, _) = decide(&server, &dep, aid, json!({"decision": "approve", "comment": "yes, today"})).await;
    assert_eq!(status, 200);
    server.wait_status(&dep, &run, "completed").await;
    let results = tool_results(&llm.requests()[1], "call_1").iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("approved") && results[0].contains("yes, today"), "{}", results[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_timeout_rejects_the_pending_approval() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    llm.push(Reply::text("Nobody answered; skipped."));
    let server = start(&llm);
    let dep =
        create(&server, json!({"steering": {"require_approval": ["write_file"], "approval_timeout_seconds": 1}})).await;
    let run = send(&server, &dep, "write a.txt").await["run_id"].as_str().unwrap().to_string();
    let list = {
        let mut list = Vec::new();
        for _ in 0..200 {
            list =
                server.get_json(&format!("/v1/deployments/{dep}/approvals")).await["data"].as_array().unwrap().clone();
            if !list.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        list
    };
    assert!(list[0]["expires_at"].is_string(), "{list:?}");
    server.wait_status(&dep, &run, "completed").await;
    let aid = list[0]["approval_id"].as_str().unwrap();
    let a = server.get_json(&format!("/v1/deployments/{dep}/approvals/{aid}")).await;
    assert_eq!(a["status"], "expired");
    let results = tool_results(&llm.requests()[1], "call_1").iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(results[0].contains("not executed") && results[0].contains("timeout"), "{results:?}");
    assert_eq!(file(&server, &dep, "a.txt").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_and_decisions_are_validated_lists_page_and_everything_is_documented() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::tool("write_file", json!({"path": "a.txt", "content": "x"})));
    let server = start(&llm);
    let body = json!({"customer_id": "c", "name": "A", "model": "openai/gpt-test", "system_prompt": "p",
        "steering": {"require_approval": ["rm -rf /"]}});
    let (status, e) = server.post_json("/v1/deployments", &body).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("steering.require_approval[0]")), "{e}");
    let dep = create(&server, json!({})).await;
    let patch = |v: Value| {
        let url = format!("{}/v1/deployments/{dep}", server.base);
        let key = server.key.clone();
        async move {
            let r = reqwest::Client::new().patch(url).bearer_auth(key).json(&v).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, e) = patch(json!({"steering": {"approval_timeout_seconds": 0}})).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("steering.approval_timeout_seconds")), "{e}");
    let (status, d) = patch(json!({"steering": {"require_approval": ["write_file"]}})).await;
    assert_eq!(status, 200, "{d}");

    // Two waiting runs on two threads: pages of one.
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (_, t) = server
            .post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "go", "thread_id": "new"}))
            .await;
        runs.push(t["run_id"].as_str().unwrap().to_string());
    }
    for r in &runs {
        server.wait_status(&dep, r, "waiting_on_human").await;
    }
    let p1 = server.get_json(&format!("/v1/deployments/{dep}/approvals?status=pending&limit=1")).await;
    assert_eq!(p1["data"].as_array().unwrap().len(), 1);
    let cursor = p1["next_cursor"].as_str().expect("a second page");
    let p2 = server.get_json(&format!("/v1/deployments/{dep}/approvals?status=pending&limit=1&cursor={cursor}")).await;
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    assert_ne!(p1["data"][0]["approval_id"], p2["data"][0]["approval_id"]);
    let aid = p1["data"][0]["approval_id"].as_str().unwrap();

    let bad = server.get_json(&format!("/v1/deployments/{dep}/approvals?status=maybe")).await;
    assert_eq!((bad["error"].as_str(), bad["param"].as_str()), (Some("validation_error"), Some("status")), "{bad}");
    let (status, e) = decide(&server, &dep, aid, json!({"decision": "perhaps"})).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("validation_error")), "{e}");
    let (status, _) = decide(&server, &dep, "apr_missing", json!({"decision": "approve"})).await;
    assert_eq!(status, 404);

    // Scopes: a read-only key lists but cannot decide (the CLI writes the key while
    // the server runs: SQLite WAL allows it).
    let dir = server.dir.path().to_str().unwrap().to_string();
    let ro = common::cli(&["keys", "create", "--data-dir", &dir, "--scopes", "deployments:read"]).trim().to_string();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/deployments/{dep}/approvals/{aid}", server.base);
    let r = http.get(&url).bearer_auth(&ro).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http.post(&url).bearer_auth(&ro).json(&json!({"decision": "approve"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http.post(&url).json(&json!({"decision": "approve"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let doc = server.get_json("/openapi.json").await;
    for path in [
        "/v1/deployments/{id}/approvals",
        "/v1/deployments/{id}/approvals/{approval_id}",
        "/v1/deployments/{id}/runs/{run_id}/steer",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["Steering"].is_object());
}

/// Issue 14, defect 5: a provider that reuses call ids (every reply numbers its calls
/// from 1) must not let a later gated call run under an earlier call's approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_call_id_never_inherits_an_approval() {
    let llm = MockLlm::start().await;
    llm.reuse_call_ids();
    let server = common::start(&llm);
    let dep = create(&server, json!({"steering": {"require_approval": ["write_file"]}})).await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "approved content"})));
    llm.push(Reply::tool("write_file", json!({"path": "b.txt", "content": "never approved"})));
    llm.push(Reply::text("done"));
    let t = send(&server, &dep, "write both").await;
    let run = t["run_id"].as_str().unwrap().to_string();
    server.wait_status(&dep, &run, "waiting_on_human").await;
    let first = pending(&server, &dep).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let (status, _) =
        decide(&server, &dep, first[0]["approval_id"].as_str().unwrap(), json!({"decision": "approve"})).await;
    assert_eq!(status, 200);

    // The second call arrives with the same provider id; it waits for its own decision.
    let mut second = Vec::new();
    for _ in 0..600 {
        second = pending(&server, &dep).await;
        if !second.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(second.len(), 1, "a new approval is asked for: {second:?}");
    assert_eq!(second[0]["arguments"]["path"], "b.txt", "{second:?}");
    assert_ne!(second[0]["call_id"], first[0]["call_id"], "the reused id was replaced by a unique one");
    assert_eq!(file(&server, &dep, "a.txt").await, (200, "approved content".to_string()));
    assert_eq!(file(&server, &dep, "b.txt").await.0, 404, "not executed without its own approval");

    let (status, _) =
        decide(&server, &dep, second[0]["approval_id"].as_str().unwrap(), json!({"decision": "reject"})).await;
    assert_eq!(status, 200);
    server.wait_status(&dep, &run, "completed").await;
    assert_eq!(file(&server, &dep, "b.txt").await.0, 404);
}
