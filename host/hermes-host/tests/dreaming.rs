//! Dreaming end to end: the real binary runs the real harness's `dream` export in
//! wasmtime against the mock model; memory and skills change on disk and in SQLite.

mod common;

use std::time::Duration;

use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

use common::Server;

async fn create(server: &Server, dreaming: bool) -> String {
    let body = json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "features": {"dreaming": dreaming}});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    d["deployment_id"].as_str().unwrap().to_string()
}

async fn remember(server: &Server, dep: &str, content: &str) -> String {
    let (status, m) =
        server.post_json(&format!("/v1/deployments/{dep}/memories"), &json!({ "content": content })).await;
    assert_eq!(status, 201, "{m}");
    m["memory_id"].as_str().unwrap().to_string()
}

async fn run(server: &Server, dep: &str, content: &str) {
    let (status, t) =
        server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({ "content": content })).await;
    assert_eq!(status, 202, "{t}");
    let run = server.wait_run(dep, t["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
}

fn plan(merge: &[&str], merged: &str, skill: Value) -> Reply {
    Reply::text(
        json!({"summary": "Merged the dark-mode preferences.", "merges": [{"ids": merge, "content": merged}],
               "forget": [], "skill": skill})
        .to_string(),
    )
}

async fn dream_events(server: &Server, dep: &str) -> Vec<Value> {
    let log = common::sse::log(&server.base, &server.key, dep).await;
    log.into_iter().filter(|f| f.event == "dream").map(|f| f.data).collect()
}

#[tokio::test]
async fn a_triggered_dream_merges_duplicates_and_writes_a_valid_skill() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, true).await;
    let a = remember(&server, &dep, "The customer prefers dark mode.").await;
    let b = remember(&server, &dep, "Customer likes dark mode in dashboards.").await;
    let c = remember(&server, &dep, "Invoices are due on the 5th of each month.").await;

    let skill = json!({"name": "monthly-invoice-check",
        "description": "Check which invoices are due on the 5th and remind the customer.",
        "body": "# Monthly invoice check\n\n1. List invoices due on the 5th.\n2. Draft a reminder in dark mode."});
    llm.push(plan(&[&a, &b], "The customer prefers dark mode, dashboards included.", skill));

    let (status, dream) = server.post_json(&format!("/v1/deployments/{dep}/dream?wait=true"), &json!({})).await;
    assert_eq!(status, 200, "{dream}");
    assert_eq!(dream["status"], "completed", "{dream}");
    assert_eq!(dream["trigger"], "api");
    let dream_id = dream["dream_id"].as_str().unwrap().to_string();
    assert!(dream_id.starts_with("run_"));
    assert_eq!(dream["memories"], json!({"added": 0, "updated": 1, "forgotten": 1}));
    assert!(dream["summary"].as_str().unwrap().contains("Merged away 1 duplicate"), "{dream}");
    assert_eq!(dream["skills"][0]["name"], "monthly-invoice-check");
    assert_eq!(dream["skills"][0]["action"], "created");
    assert_eq!(dream["skills"][0]["valid"], true, "{dream}");

    // The model saw every memory with its id.
    let asked = llm.requests().last().unwrap().to_string();
    for id in [&a, &b, &c] {
        assert!(asked.contains(id.as_str()), "{asked}");
    }

    // Memory: the duplicates are one entry now; the unrelated one is untouched.
    let page = server.get_json(&format!("/v1/deployments/{dep}/memories")).await;
    let mut contents: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    contents.sort();
    assert_eq!(
        contents,
        ["Invoices are due on the 5th of each month.", "The customer prefers dark mode, dashboards included."]
    );

    // Skills API lists it (agent-written); the validator CLI accepts the file.
    let skills = server.get_json(&format!("/v1/deployments/{dep}/skills")).await;
    let listed = skills["data"].as_array().unwrap().iter().find(|s| s["name"] == "monthly-invoice-check").cloned();
    let listed = listed.expect("the skills API lists the dream's skill");
    assert_eq!(listed["source"], "agent");
    let one = server.get_json(&format!("/v1/deployments/{dep}/skills/{}", listed["skill_id"].as_str().unwrap())).await;
    assert!(one["content"].as_str().unwrap().contains("name: monthly-invoice-check"), "{one}");
    let dir = server.dir.path().join("workspaces").join(&dep).join(".hermes/skills/monthly-invoice-check");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["skills", "validate"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Events: dream started and finished (with the summary), the skill, the memory changes.
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let of_dream: Vec<_> = log.iter().filter(|f| f.data["run_id"] == dream_id.as_str()).collect();
    let kinds: Vec<&str> = of_dream.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"dream"));
    assert_eq!(kinds.last(), Some(&"dream"));
    assert!(kinds.contains(&"skill") && kinds.iter().filter(|k| **k == "memory").count() == 2, "{kinds:?}");
    let last = &of_dream.last().unwrap().data;
    assert_eq!(last["status"], "completed");
    assert!(last["summary"].as_str().unwrap().contains("Wrote skill `monthly-invoice-check`"), "{last}");
    let skill_event = of_dream.iter().find(|f| f.event == "skill").unwrap();
    assert_eq!(skill_event.data["skill_id"], listed["skill_id"]);
}

#[tokio::test]
async fn a_user_message_cancels_a_live_dream_and_one_dream_at_a_time() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let dep = create(&server, true).await;
    remember(&server, &dep, "The customer prefers dark mode.").await;
    llm.push(Reply::after_ms(20_000, Reply::text("{\"summary\":\"too late\"}")));
    llm.push(Reply::text("Hello!"));

    let (status, dream) = server.post_json(&format!("/v1/deployments/{dep}/dream"), &json!({})).await;
    assert_eq!((status, dream["status"].as_str()), (202, Some("running")), "{dream}");
    for _ in 0..200 {
        if !llm.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(llm.requests().len(), 1, "the dream is asking the model");
    let (status, e) = server.post_json(&format!("/v1/deployments/{dep}/dream"), &json!({})).await;
    assert_eq!((status, e["error"].as_str()), (409, Some("conflict")), "one dream at a time: {e}");

    // The customer writes: the dream yields at once, the run answers.
    let started = std::time::Instant::now();
    run(&server, &dep, "Hi there").await;
    assert!(started.elapsed() < Duration::from_secs(10), "the run did not wait for the dream");
    let mut finished = None;
    for _ in 0..100 {
        finished = dream_events(&server, &dep).await.into_iter().find(|d| d["status"] != "running");
        if finished.is_some() {
            break;
        }
    }
    let finished = finished.expect("the dream ended");
    assert_eq!(finished["status"], "cancelled", "{finished}");
    assert_eq!(finished["dream_id"], dream["dream_id"]);
}

#[tokio::test]
async fn an_idle_deployment_dreams_once_after_new_activity() {
    let llm = MockLlm::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[dreaming]\nidle_secs = 1\ncheck_interval_secs = 1\n").unwrap();
    let server = common::start_with(&llm, &[("HERMES_CONFIG", config.path().to_str().unwrap())]);
    let dreamer = create(&server, true).await;
    let sleeper = create(&server, false).await;
    for dep in [&dreamer, &sleeper] {
        remember(&server, dep, "The customer prefers dark mode.").await;
    }
    // Idle, but no activity yet: no dream.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(dream_events(&server, &dreamer).await.is_empty(), "no run yet, nothing to dream about");

    llm.push(Reply::text("Hi."));
    run(&server, &sleeper, "hello").await;
    // Queued in order: the dreamer's run answers first, its dream a second later.
    llm.push(Reply::text("Hi."));
    llm.push(Reply::text(json!({"summary": "Nothing to merge.", "merges": [], "skill": null}).to_string()));
    run(&server, &dreamer, "hello").await;

    let mut done = Vec::new();
    for _ in 0..20 {
        done = dream_events(&server, &dreamer).await.into_iter().filter(|d| d["status"] == "completed").collect();
        if !done.is_empty() {
            break;
        }
    }
    assert_eq!(done.len(), 1, "the idle deployment dreamed");
    assert_eq!(done[0]["trigger"], "idle");
    assert!(done[0]["summary"].as_str().unwrap().starts_with("Nothing to merge."), "{}", done[0]);

    // No new activity since: it does not dream again; the other never dreams.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(dream_events(&server, &dreamer).await.len(), 2, "one dream: started + completed");
    assert!(dream_events(&server, &sleeper).await.is_empty(), "features.dreaming is off");
}
