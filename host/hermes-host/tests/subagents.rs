//! Subagents through the real binary: a run delegates tasks to child runs on new
//! threads, waits for them holding no instance (`waiting_on_subagents`), and gets
//! their answers as tool results; the events and runs link child to parent, usage
//! rolls up, allowlists and the depth bound hold, a cancel reaches the children, and
//! a kill -9 mid-child resumes both.

mod common;

use std::time::Duration;

use common::{Server, create, offered, spawn, start, start_with, tool_results};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// The note every child's system prompt carries.
const CHILD: &str = "You are a subagent";

fn system(req: &Value) -> &str {
    req["messages"][0]["content"].as_str().unwrap_or_default()
}

/// The first user message of a request (a child's task).
fn first_user(req: &Value) -> String {
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let user = messages.iter().find(|m| m["role"] == "user").cloned().unwrap_or(Value::Null);
    user["content"].as_str().unwrap_or_default().to_string()
}

async fn deployment(server: &Server) -> String {
    create(
        server,
        json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
               "features": {"memory": false}}),
    )
    .await
}

async fn post_message(server: &Server, dep: &str, content: &str) -> String {
    let (status, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": content})).await;
    assert_eq!(status, 202, "{t}");
    t["run_id"].as_str().unwrap().to_string()
}

/// The child runs of `parent`, from its `subagent` events (one per start).
fn children_of(log: &[common::sse::Frame], parent: &str) -> Vec<String> {
    log.iter()
        .filter(|f| f.event == "subagent" && f.data["run_id"] == parent && f.data["status"] == "queued")
        .map(|f| f.data["child_run_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_delegates_two_tasks_in_parallel_and_answers_with_their_results() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hermes.toml");
    // Children may not delegate further: the depth bound is 1.
    std::fs::write(&config, "[subagents]\nmax_depth = 1\n").unwrap();
    llm.set_responder(|req| {
        if system(req).contains(CHILD) {
            let task = first_user(req);
            // Each child answers after a pause: both pauses overlap when they run in parallel.
            let answer = if task.contains("alpha") { "alpha has 3 files" } else { "beta has 5 files" };
            return Some(Reply::after_ms(600, Reply::text(answer)));
        }
        let results = tool_results(req);
        if results.is_empty() {
            return Some(Reply::ToolCalls(vec![
                ("subagents".into(), json!({"task": "Count the files of alpha.", "tools": ["list_files"]})),
                ("subagents".into(), json!({"task": "Count the files of beta.", "max_turns": 3})),
            ]));
        }
        Some(Reply::text(format!("Summary: {}", results.join(" / "))))
    });
    let server = start_with(&llm, &[("HERMES_CONFIG", config.to_str().unwrap())]);
    let dep = deployment(&server).await;

    let run = post_message(&server, &dep, "Count the files of alpha and beta.").await;
    let parent = server.wait_status(&dep, &run, "completed").await;
    assert_eq!(parent["output"], "Summary: alpha has 3 files / beta has 5 files", "{parent}");
    assert!(parent["parent_run_id"].is_null());

    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let children = children_of(&log, &run);
    assert_eq!(children.len(), 2, "one child per call");
    // Side by side: both children were running before either answered.
    let position = |child: &str, status: &str| {
        log.iter().position(|f| f.event == "run_status" && f.data["run_id"] == child && f.data["status"] == status)
    };
    let last_start = children.iter().filter_map(|c| position(c, "running")).max().unwrap();
    let first_end = children.iter().filter_map(|c| position(c, "completed")).min().unwrap();
    assert!(last_start < first_end, "the children ran one after the other");
    let mut child_input = 0;
    for child in &children {
        let c = server.get_json(&format!("/v1/deployments/{dep}/runs/{child}")).await;
        assert_eq!(c["status"], "completed", "{c}");
        assert_eq!(c["parent_run_id"], run.as_str());
        assert_ne!(c["thread_id"], parent["thread_id"], "a child runs on its own thread");
        child_input += c["usage"]["input_tokens"].as_u64().unwrap();
        // Its events carry the link.
        let ended = log
            .iter()
            .find(|f| f.event == "run_status" && f.data["run_id"] == child.as_str() && f.data["status"] == "completed")
            .expect("the child's completed run_status");
        assert_eq!(ended.data["parent_run_id"], run.as_str());
        let told = log.iter().find(|f| {
            f.event == "subagent" && f.data["child_run_id"] == child.as_str() && f.data["status"] == "completed"
        });
        assert!(told.is_some_and(|f| f.data["run_id"] == run.as_str()), "the parent is told its child ended");
    }
    // The parent waited holding no instance, and its usage includes its children's.
    assert!(log.iter().any(|f| f.event == "run_status"
        && f.data["run_id"] == run.as_str()
        && f.data["status"] == "waiting_on_subagents"));
    assert!(parent["usage"]["input_tokens"].as_u64().unwrap() > child_input, "{parent}");

    // What each child was offered: the allowlist, no deeper delegation, and its note.
    let reqs = llm.requests();
    let child_reqs: Vec<&Value> = reqs.iter().filter(|r| system(r).contains(CHILD)).collect();
    assert_eq!(child_reqs.len(), 2);
    for r in &child_reqs {
        let tools = offered(r);
        assert!(!tools.contains(&"subagents".to_string()), "depth bound: {tools:?}");
        if first_user(r).contains("alpha") {
            assert_eq!(tools, ["list_files"]);
        } else {
            assert!(tools.contains(&"read_file".to_string()), "{tools:?}");
        }
    }
    let parent_first = reqs.iter().find(|r| !system(r).contains(CHILD)).unwrap();
    assert!(offered(parent_first).contains(&"subagents".to_string()));
    // The Tools API lists it by its hosted name.
    let tools = server.get_json(&format!("/v1/deployments/{dep}/tools")).await;
    assert!(tools.to_string().contains("\"subagents\""), "{tools}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_parent_cancels_its_working_child() {
    let llm = MockLlm::start().await;
    llm.set_responder(|req| {
        if system(req).contains(CHILD) {
            return Some(Reply::Hang);
        }
        if tool_results(req).is_empty() {
            return Some(Reply::tool("subagents", json!({"task": "Wait for a long time."})));
        }
        Some(Reply::text("The parent should never get here."))
    });
    let server = start(&llm);
    let dep = deployment(&server).await;
    let run = post_message(&server, &dep, "Delegate something slow.").await;
    server.wait_status(&dep, &run, "waiting_on_subagents").await;
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let child = children_of(&log, &run).pop().expect("a child");
    server.wait_status(&dep, &child, "running").await;

    let (status, body) = server.post_json(&format!("/v1/deployments/{dep}/runs/{run}/cancel"), &json!({})).await;
    assert!(status == 200 || status == 202, "{status} {body}");
    server.wait_status(&dep, &run, "cancelled").await;
    server.wait_status(&dep, &child, "cancelled").await;
    // Cancelled parent first: the child's end did not wake it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = server.get_json(&format!("/v1/deployments/{dep}/runs/{run}")).await;
    assert_eq!(r["status"], "cancelled", "{r}");
    assert!(!llm.requests().iter().any(|r| !tool_results(r).is_empty()), "the parent never resumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_child_resumes_both_and_starts_no_second_child() {
    let llm = MockLlm::start().await;
    llm.set_responder(|req| {
        if system(req).contains(CHILD) {
            return Some(Reply::after_ms(1500, Reply::text("the answer is 42")));
        }
        let results = tool_results(req);
        if results.is_empty() {
            return Some(Reply::tool("subagents", json!({"task": "Find the answer."})));
        }
        Some(Reply::text(format!("Child said: {}", results.join(" / "))))
    });
    let mut server = start(&llm);
    let dep = deployment(&server).await;
    let run = post_message(&server, &dep, "Find the answer with a helper.").await;
    server.wait_status(&dep, &run, "waiting_on_subagents").await;
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let child = children_of(&log, &run).pop().expect("a child");
    server.wait_status(&dep, &child, "running").await;

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let port = common::free_port();
    let (proc, _) = spawn(&llm, server.dir.path(), port, &[]);
    server.child = proc;
    server.base = format!("http://127.0.0.1:{port}");

    let done = server.wait_status(&dep, &run, "completed").await;
    assert_eq!(done["output"], "Child said: the answer is 42", "{done}");
    let c = server.get_json(&format!("/v1/deployments/{dep}/runs/{child}")).await;
    assert_eq!(c["status"], "completed", "{c}");
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    assert_eq!(children_of(&log, &run), [child], "the resumed parent found its child again");
}
