//! Conversations and the event stream through the binary (and the library where a
//! test needs to hold a subscriber still): threads, attachments, cancel, steering,
//! queued concurrency, retention, slow subscribers, and kill -9 recovery.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::sse::{self, SseReader};
use common::{Server, cli, spawn, start, start_with};
use hermes_host::{DeploymentSpec, Host, HostConfig, ThreadTarget};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

async fn create_deployment(server: &Server) -> String {
    server.create_deployment().await
}

async fn call(server: &Server, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", server.base);
    let mut req = match method {
        "POST" => http.post(url),
        "PATCH" => http.patch(url),
        "DELETE" => http.delete(url),
        _ => http.get(url),
    }
    .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..600 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn config_file(dir: &tempfile::TempDir, toml: &str) -> String {
    let path = dir.path().join("hermes.toml");
    std::fs::write(&path, toml).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_api_create_list_get_patch_history_attachments_and_usage() {
    let llm = MockLlm::start().await;
    llm.push(Reply::text("Got the report."));
    let server = start(&llm);
    let key = server.key.clone();
    let dep = create_deployment(&server).await;
    let base = format!("/v1/deployments/{dep}/threads");

    let (s, t1) = call(&server, "POST", &base, &key, Some(json!({"title": "Support"}))).await;
    assert_eq!(s, 201, "{t1}");
    assert_eq!(t1["title"], "Support");
    assert_eq!(t1["is_default"], false);
    assert!(t1["thread_id"].as_str().unwrap().starts_with("thr_"));
    // No body at all: an untitled thread.
    let r = reqwest::Client::new().post(format!("{}{base}", server.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let t2: Value = r.json().await.unwrap();
    assert_eq!(t2["title"], Value::Null);

    // Three threads (the default one too), paged two at a time, newest first.
    let (s, p1) = call(&server, "GET", &format!("{base}?limit=2"), &key, None).await;
    assert_eq!(s, 200);
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().expect("a next page").to_string();
    let (_, p2) = call(&server, "GET", &format!("{base}?limit=2&cursor={cursor}"), &key, None).await;
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert_eq!(p2["next_cursor"], Value::Null);
    let all: Vec<Value> =
        p1["data"].as_array().unwrap().iter().chain(p2["data"].as_array().unwrap()).cloned().collect();
    assert_eq!(all.iter().filter(|t| t["is_default"] == true).count(), 1);
    assert_eq!(call(&server, "GET", &format!("{base}?limit=0"), &key, None).await.0, 400);
    assert_eq!(call(&server, "GET", &format!("{base}?limit=101"), &key, None).await.0, 400);
    assert_eq!(call(&server, "GET", &format!("{base}?cursor=thr_nope"), &key, None).await.0, 400);

    let tid = t1["thread_id"].as_str().unwrap();
    let (s, renamed) = call(&server, "PATCH", &format!("{base}/{tid}"), &key, Some(json!({"title": "Billing"}))).await;
    assert_eq!(s, 200);
    assert_eq!(renamed["title"], "Billing");
    assert_eq!(call(&server, "PATCH", &format!("{base}/{tid}"), &key, Some(json!({}))).await.0, 400);
    assert_eq!(call(&server, "PATCH", &format!("{base}/thr_missing"), &key, Some(json!({"title": "x"}))).await.0, 404);

    // A message with attachments: validated, recorded, shown to the model.
    let msgs = format!("/v1/deployments/{dep}/messages");
    let (s, bad) = call(
        &server,
        "POST",
        &msgs,
        &key,
        Some(json!({"content": "see", "thread_id": tid, "attachments": [{"url": "ftp://x/y"}]})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(bad["param"], "attachments[0].url");
    let attachments =
        json!([{"url": "https://files.example.com/q3.pdf", "name": "q3.pdf", "content_type": "application/pdf"}]);
    let (s, ticket) = call(
        &server,
        "POST",
        &msgs,
        &key,
        Some(json!({"content": "Summarise the report", "thread_id": tid, "attachments": attachments})),
    )
    .await;
    assert_eq!(s, 202, "{ticket}");
    let run_id = ticket["run_id"].as_str().unwrap();
    let run = server.wait_run(&dep, run_id).await;
    assert_eq!(run["status"], "completed");
    assert!(run["usage"]["input_tokens"].as_u64().unwrap() > 0, "usage on GET run: {run}");
    assert!(run["usage"]["output_tokens"].as_u64().unwrap() > 0, "usage on GET run: {run}");
    let req = llm.requests().pop().unwrap().to_string();
    assert!(req.contains("Attachments:") && req.contains("https://files.example.com/q3.pdf"), "{req}");

    let (s, thread) = call(&server, "GET", &format!("{base}/{tid}"), &key, None).await;
    assert_eq!(s, 200);
    assert_eq!(thread["title"], "Billing");
    // The hosted thread object: activity, and `messages` as an array.
    assert_eq!((thread["status"].as_str(), thread["message_count"].as_u64()), (Some("idle"), Some(2)), "{thread}");
    assert!(thread["last_activity_at"].as_str().unwrap() >= thread["created_at"].as_str().unwrap());
    let history = thread["messages"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{thread}");
    assert_eq!(history[0]["role"], "user");
    assert_eq!(history[0]["content"], "Summarise the report");
    assert_eq!(history[0]["attachments"], attachments);
    assert_eq!(history[1]["role"], "agent");
    assert_eq!(history[1]["content"], "Got the report.");
    assert_eq!(history[1]["run_id"], run_id);
    let (_, page1) = call(&server, "GET", &format!("{base}/{tid}?limit=1"), &key, None).await;
    assert_eq!(page1["messages_has_more"], true);
    let cursor = page1["messages_next_cursor"].as_str().unwrap().to_string();
    let (_, page2) = call(&server, "GET", &format!("{base}/{tid}?limit=1&messages_cursor={cursor}"), &key, None).await;
    assert_eq!(page2["messages"][0]["role"], "agent");
    assert_eq!(page2["messages_next_cursor"], Value::Null);

    // DELETE: the thread and its messages go; the default thread stays (409).
    let (s, deleted) = call(&server, "DELETE", &format!("{base}/{tid}"), &key, None).await;
    assert_eq!((s, deleted["deleted"].as_bool()), (200, Some(true)), "{deleted}");
    assert_eq!(call(&server, "GET", &format!("{base}/{tid}"), &key, None).await.0, 404);
    let (_, list) = call(&server, "GET", &base, &key, None).await;
    let default = list["data"].as_array().unwrap().iter().find(|t| t["is_default"] == true).cloned().unwrap();
    let (s, refused) =
        call(&server, "DELETE", &format!("{base}/{}", default["thread_id"].as_str().unwrap()), &key, None).await;
    assert_eq!((s, refused["error"].as_str()), (409, Some("conflict")), "{refused}");

    // Scopes and another account's deployment.
    let dir = server.dir.path().to_str().unwrap();
    let reader = cli(&["keys", "create", "--data-dir", dir, "--scopes", "deployments:read"]).trim().to_string();
    assert_eq!(call(&server, "GET", &base, &reader, None).await.0, 200);
    assert_eq!(call(&server, "POST", &base, &reader, Some(json!({}))).await.0, 403);
    let other =
        cli(&["keys", "create", "--data-dir", dir, "--account", "acct_other", "--scopes", "*"]).trim().to_string();
    assert_eq!(call(&server, "GET", &base, &other, None).await.0, 404);
    assert_eq!(call(&server, "GET", &format!("{base}/{tid}"), &other, None).await.0, 404);
    assert_eq!(call(&server, "POST", &base, &other, Some(json!({}))).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_a_run_stuck_in_a_hanging_model_call_is_prompt() {
    let llm = MockLlm::start().await;
    llm.push(Reply::Hang);
    let server = start(&llm);
    let dep = create_deployment(&server).await;
    let (_, ticket) =
        call(&server, "POST", &format!("/v1/deployments/{dep}/messages"), &server.key, Some(json!({"content": "hi"})))
            .await;
    let run_id = ticket["run_id"].as_str().unwrap();
    wait_until("the model call", || llm.requests().len() == 1).await;
    let started = Instant::now();
    let (s, body) =
        call(&server, "POST", &format!("/v1/deployments/{dep}/runs/{run_id}/cancel"), &server.key, None).await;
    assert_eq!(s, 200, "{body}");
    let run = server.wait_run(&dep, run_id).await;
    assert_eq!(run["status"], "cancelled");
    assert!(started.elapsed() < Duration::from_secs(2), "cancelled in {:?}", started.elapsed());
    let log = sse::log(&server.base, &server.key, &dep).await;
    let last = log.iter().rfind(|f| f.event == "run_status").unwrap();
    assert_eq!(last.data["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_during_a_run_reaches_its_next_model_request() {
    let llm = MockLlm::start().await;
    llm.push(Reply::after_ms(1500, Reply::tool("write_file", json!({"path": "a.txt", "content": "A"}))));
    llm.push(Reply::text("Done, in blue."));
    let server = start(&llm);
    let dep = create_deployment(&server).await;
    let msgs = format!("/v1/deployments/{dep}/messages");
    let (_, first) = call(&server, "POST", &msgs, &server.key, Some(json!({"content": "write a file"}))).await;
    wait_until("the first model call", || llm.requests().len() == 1).await;
    let (s, steer) = call(&server, "POST", &msgs, &server.key, Some(json!({"content": "Make it blue please"}))).await;
    assert_eq!(s, 202);
    assert_eq!(steer["run_id"], first["run_id"], "joins the active run");
    assert_eq!(steer["status"], "running");
    let run = server.wait_run(&dep, first["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed");
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2);
    assert!(!reqs[0].to_string().contains("Make it blue please"));
    assert_eq!(reqs[1].to_string().matches("Make it blue please").count(), 1, "{}", reqs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_runs_than_instance_slots_all_complete() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::after_ms(400, Reply::text("ok")));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&cfg_dir, "[sandbox]\nmax_concurrent_instances = 2\n");
    let server = start_with(&llm, &[("HERMES_CONFIG", &cfg)]);
    let dep = create_deployment(&server).await;
    let mut runs = Vec::new();
    for i in 0..6 {
        let (s, t) = call(
            &server,
            "POST",
            &format!("/v1/deployments/{dep}/messages"),
            &server.key,
            Some(json!({"content": format!("job {i}"), "thread_id": "new"})),
        )
        .await;
        assert_eq!(s, 202);
        runs.push(t["run_id"].as_str().unwrap().to_string());
    }
    let mut spans = Vec::new();
    for r in &runs {
        let run = server.wait_run(&dep, r).await;
        assert_eq!(run["status"], "completed", "{run}");
        let t = |k: &str| chrono_ms(run["timings"][k].as_str().unwrap());
        spans.push((t("started_at"), t("finished_at")));
    }
    // Never more than 2 model calls at once: at any start, at most 2 runs are in flight
    // (a little slack for the instant between a slot's release and the status commit).
    for (start, _) in &spans {
        let overlapping = spans.iter().filter(|(s, f)| s <= start && *f > start + 30).count();
        assert!(overlapping <= 2, "{overlapping} runs overlapped: {spans:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_message_to_a_queued_run_never_runs_it_twice() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::after_ms(300, Reply::text("ok")));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&cfg_dir, "[sandbox]\nmax_concurrent_instances = 1\n");
    let server = start_with(&llm, &[("HERMES_CONFIG", &cfg)]);
    let dep = create_deployment(&server).await;
    let post = |body: Value| {
        let server = &server;
        let path = format!("/v1/deployments/{dep}/messages");
        async move { call(server, "POST", &path, &server.key, Some(body)).await }
    };
    // The only instance slot is busy with another thread's run, so the next run waits
    // queued; a second message to its thread arrives while it is still queued.
    let (s, busy) = post(json!({"content": "keep the slot busy", "thread_id": "new"})).await;
    assert_eq!(s, 202, "{busy}");
    let (s, first) = post(json!({"content": "first question"})).await;
    assert_eq!(s, 202, "{first}");
    let (s, second) = post(json!({"content": "second question"})).await;
    assert_eq!(s, 202, "{second}");
    assert_eq!(first["run_id"], second["run_id"], "the second message joins the queued run");
    let run_id = first["run_id"].as_str().unwrap().to_string();
    server.wait_run(&dep, busy["run_id"].as_str().unwrap()).await;
    let run = server.wait_run(&dep, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    // Give a second executor, were there one, time to start and call the model.
    tokio::time::sleep(Duration::from_millis(800)).await;

    let calls = llm.requests().iter().filter(|r| r.to_string().contains("first question")).count();
    assert_eq!(calls, 1, "the queued run called the model once, not once per executor");
    let statuses: Vec<String> = sse::log(&server.base, &server.key, &dep)
        .await
        .into_iter()
        .filter(|f| f.event == "run_status" && f.data["run_id"] == run_id.as_str())
        .map(|f| f.data["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(statuses, ["running", "completed"], "one executor: one running, one completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_run_records_it_at_once_and_frees_its_thread() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::after_ms(1500, Reply::text("ok")));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&cfg_dir, "[sandbox]\nmax_concurrent_instances = 1\n");
    let server = start_with(&llm, &[("HERMES_CONFIG", &cfg)]);
    let dep = create_deployment(&server).await;
    let messages = format!("/v1/deployments/{dep}/messages");
    let (_, busy) =
        call(&server, "POST", &messages, &server.key, Some(json!({"content": "busy", "thread_id": "new"}))).await;
    // The busy run holds the only slot before the second message arrives (otherwise
    // the two executors race for it).
    let busy_run = format!("/v1/deployments/{dep}/runs/{}", busy["run_id"].as_str().unwrap());
    for _ in 0..200 {
        if call(&server, "GET", &busy_run, &server.key, None).await.1["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_, queued) = call(&server, "POST", &messages, &server.key, Some(json!({"content": "never run me"}))).await;
    let run_id = queued["run_id"].as_str().unwrap().to_string();

    let started = Instant::now();
    let (s, cancelled) =
        call(&server, "POST", &format!("/v1/deployments/{dep}/runs/{run_id}/cancel"), &server.key, None).await;
    assert_eq!(s, 200, "{cancelled}");
    let (_, run) = call(&server, "GET", &format!("/v1/deployments/{dep}/runs/{run_id}"), &server.key, None).await;
    assert_eq!(run["status"], "cancelled", "recorded at once, not when a slot frees: {run}");
    assert!(started.elapsed() < Duration::from_millis(1000), "the busy run still holds the only slot");

    // The thread is free: the next message starts a new run there, which completes.
    let (s, next) = call(&server, "POST", &messages, &server.key, Some(json!({"content": "next"}))).await;
    assert_eq!(s, 202, "{next}");
    assert_ne!(next["run_id"], queued["run_id"], "a new run, not the cancelled one: {next}");
    server.wait_run(&dep, busy["run_id"].as_str().unwrap()).await;
    let done = server.wait_run(&dep, next["run_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");

    // Two model calls: the busy run's and the next one's (whose context shows the
    // cancelled message as history); the cancelled run never called the model.
    assert_eq!(llm.requests().len(), 2, "the cancelled run never ran");
    let statuses: Vec<String> = sse::log(&server.base, &server.key, &dep)
        .await
        .into_iter()
        .filter(|f| f.event == "run_status" && f.data["run_id"] == run_id.as_str())
        .map(|f| f.data["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(statuses, ["cancelled"], "never running, cancelled once");
}

fn chrono_ms(rfc3339: &str) -> i64 {
    // 2025-01-01T00:00:00.123Z → milliseconds of the day (tests run well inside a day).
    let t = &rfc3339[11..23];
    let (h, m, s, ms) = (&t[0..2], &t[3..5], &t[6..8], &t[9..12]);
    ((h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()) * 60 + s.parse::<i64>().unwrap()) * 1000
        + ms.parse::<i64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_old_events_and_a_stale_resume_gets_410() {
    let llm = MockLlm::start().await;
    llm.push(Reply::text("one two three four five"));
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg =
        config_file(&cfg_dir, "[events]\nretention_hours = 0\nkeep_per_deployment = 3\nprune_interval_secs = 1\n");
    let server = start_with(&llm, &[("HERMES_CONFIG", &cfg)]);
    let dep = create_deployment(&server).await;
    let (_, t) =
        call(&server, "POST", &format!("/v1/deployments/{dep}/messages"), &server.key, Some(json!({"content": "go"})))
            .await;
    server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/deployments/{dep}/events", server.base);
    let mut gone = None;
    for _ in 0..200 {
        let r = http.get(&url).bearer_auth(&server.key).header("Last-Event-ID", "evt_1").send().await.unwrap();
        if r.status() == 410 {
            gone = Some(r.json::<Value>().await.unwrap());
            break;
        }
        drop(r);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gone = gone.expect("a stale Last-Event-ID gets 410 once retention ran");
    assert_eq!(gone["error"], "events_expired");
    assert!(gone["message"].as_str().unwrap().contains("?after="), "{gone}");
    // Starting over serves exactly the retained tail.
    let log = sse::log(&server.base, &server.key, &dep).await;
    assert_eq!(log.len(), 3, "the newest 3 are kept");
    let oldest = log[0].seq();
    let mut r = SseReader::open(&server.base, &server.key, &dep, "", Some(&format!("evt_{}", oldest - 1))).await;
    assert_eq!(r.next(Duration::from_secs(5)).await.unwrap().seq(), oldest);
}

fn env_for(llm: &MockLlm) -> HashMap<String, String> {
    HashMap::from([("OPENAI_API_KEY".into(), "sk-test".into()), ("OPENAI_BASE_URL".into(), llm.openai_base_url())])
}

async fn library_host(dir: &std::path::Path, llm: &MockLlm, config: HostConfig) -> (Host, String) {
    let host = Host::builder(dir).config(config).env(env_for(llm)).build().await.unwrap();
    let spec: DeploymentSpec = serde_json::from_value(
        json!({"customer_id": "c", "name": "n", "model": "openai/gpt-test", "system_prompt": "p"}),
    )
    .unwrap();
    let dep = host.create_deployment(spec).await.unwrap().deployment_id;
    (host, dep)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_never_prunes_past_a_connected_subscriber() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("a b c d e f"));
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::default();
    config.events.retention_hours = 0;
    config.events.keep_per_deployment = 1;
    config.events.prune_interval_secs = 3600;
    let (host, dep) = library_host(dir.path(), &llm, config).await;
    let mut sub = host.subscribe(&dep, 0).await.unwrap();
    let first = sub.next().await.unwrap();
    let t = host.send_message(&dep, "go", ThreadTarget::Default).await.unwrap();
    host.wait_for_run(&t.run_id).await.unwrap();
    let latest = {
        let mut all = host.subscribe(&dep, 0).await.unwrap();
        let mut last = 0;
        while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(300), all.next()).await {
            last = e.sequence;
        }
        last
    };
    assert!(latest > 5);
    host.prune_events().await.unwrap();
    assert_eq!(host.oldest_event(&dep).await.unwrap(), Some(first.sequence + 1), "kept from the subscriber on");
    // The subscriber carries on exactly.
    assert_eq!(sub.next().await.unwrap().sequence, first.sequence + 1);
    drop(sub);
    host.prune_events().await.unwrap();
    assert_eq!(host.oldest_event(&dep).await.unwrap(), Some(latest), "only the newest 1 is kept");
    // A subscriber whose next events are gone is told so instead of skipping them.
    let mut stale = host.subscribe(&dep, first.sequence).await.unwrap();
    assert!(matches!(stale.next().await, Err(hermes_host::SubscriptionError::Expired(_))));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_too_far_behind_is_cut_off_and_others_are_not() {
    let llm = MockLlm::start().await;
    // Three runs of ~65 events each: bursts smaller than the allowed lag, 195+ in all.
    let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    llm.set_default(Reply::text(words.join(" ")));
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::default();
    config.events.max_subscriber_lag = 100;
    let (host, dep) = library_host(dir.path(), &llm, config).await;
    let mut slow = host.subscribe(&dep, 0).await.unwrap();
    slow.next().await.unwrap();
    let mut fast = host.subscribe(&dep, 0).await.unwrap();
    let drain = tokio::spawn(async move {
        let (mut n, mut completed) = (0, 0);
        loop {
            let e = fast.next().await.expect("a subscriber that keeps up is never cut off");
            n += 1;
            if e.kind == "run_status" && e.payload["status"] == "completed" {
                completed += 1;
                if completed == 3 {
                    return n;
                }
            }
        }
    });
    for _ in 0..3 {
        let t = host.send_message(&dep, "go", ThreadTarget::New).await.unwrap();
        host.wait_for_run(&t.run_id).await.unwrap();
    }
    assert!(tokio::time::timeout(Duration::from_secs(20), drain).await.unwrap().unwrap() > 190);
    let err = slow.next().await.expect_err("more than 100 behind: cut off");
    assert!(err.to_string().contains("resume after evt_"), "{err}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_resumes_exactly_and_the_stream_resumes_without_gaps_or_duplicates() {
    let llm = MockLlm::start().await;
    llm.push(Reply::tool("write_file", json!({"path": "a.txt", "content": "A"})));
    llm.push(Reply::Hang);
    llm.push(Reply::tool("write_file", json!({"path": "b.txt", "content": "B"})));
    llm.push(Reply::text("Both written."));
    let mut server = start(&llm);
    let dep = create_deployment(&server).await;
    let mut reader = SseReader::open(&server.base, &server.key, &dep, "?after=0", None).await;
    let (_, t) = call(
        &server,
        "POST",
        &format!("/v1/deployments/{dep}/messages"),
        &server.key,
        Some(json!({"content": "write a then b"})),
    )
    .await;
    let run_id = t["run_id"].as_str().unwrap().to_string();
    let mut seen: Vec<u64> = Vec::new();
    let mut last_id;
    loop {
        let f = reader.next(Duration::from_secs(30)).await.expect("events before the kill");
        seen.push(f.seq());
        last_id = f.id.clone();
        if f.event == "tool_result" {
            break;
        }
    }
    // Hold on until the second model call is in flight, then kill -9.
    wait_until("the second model call", || llm.requests().len() == 2).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    while let Some(f) = reader.next(Duration::from_secs(2)).await {
        seen.push(f.seq());
        last_id = f.id.clone();
    }

    let port = common::free_port();
    let (child, key) = spawn(&llm, server.dir.path(), port, &[]);
    assert!(key.is_none(), "a restart prints no new key");
    server.child = child;
    server.base = format!("http://127.0.0.1:{port}");
    let mut reader = SseReader::open(&server.base, &server.key, &dep, "", Some(&last_id)).await;
    loop {
        let f = reader.next(Duration::from_secs(60)).await.expect("events after the restart");
        seen.push(f.seq());
        if f.event == "run_status" && f.data["run_id"] == run_id.as_str() && f.data["status"] != "running" {
            assert_eq!(f.data["status"], "completed", "{:?}", f.data);
            break;
        }
    }
    let log = sse::log(&server.base, &server.key, &dep).await;
    sse::assert_exact(&seen, &log);

    // The first tool ran exactly once; the model saw its result once after the restart.
    let results: Vec<&Value> = log.iter().filter(|f| f.event == "tool_result").map(|f| &f.data).collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["call_id"], "call_1");
    assert_eq!(results[1]["call_id"], "call_2");
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 4);
    let tool_msgs = |r: &Value, id: &str| {
        r["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "tool" && m["tool_call_id"] == id).count()
    };
    assert_eq!(tool_msgs(&reqs[2], "call_1"), 1, "{}", reqs[2]);
    assert_eq!(tool_msgs(&reqs[3], "call_1"), 1);
    assert_eq!(tool_msgs(&reqs[3], "call_2"), 1);
    let ws = server.dir.path().join("workspaces").join(&dep);
    let found: Vec<_> = walk(&ws).into_iter().filter(|p| p.ends_with("a.txt") || p.ends_with("b.txt")).collect();
    assert_eq!(found.len(), 2, "both files written: {found:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A second host process on the same data dir leaves the first one's live run alone;
/// once the first one dies, the next process to start resumes it, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_never_resumes_a_live_processs_run_only_a_dead_ones() {
    let first_llm = MockLlm::start().await;
    first_llm.push(Reply::Hang);
    let mut first = start(&first_llm);
    let dep = first.create_deployment().await;
    let (status, sent) = first.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "hi"})).await;
    assert_eq!(status, 202, "{sent}");
    let run_id = sent["run_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while first_llm.requests().is_empty() {
        assert!(Instant::now() < deadline, "the first process never called its model");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A second process starts on the same data dir while the run is live in the first.
    let second_llm = MockLlm::start().await;
    second_llm.set_default(Reply::text("second"));
    let (second, _) = spawn(&second_llm, first.dir.path(), common::free_port(), &[]);
    // Killed even when an assertion fails (an orphan would keep the test's stderr open).
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _second = KillOnDrop(second);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(second_llm.requests().is_empty(), "the second process took over a run its owner is still executing");
    let run = first.get_json(&format!("/v1/deployments/{dep}/runs/{run_id}")).await;
    assert_eq!(run["status"], "running", "{run}");

    // The owner dies; the next process to start resumes the run, once.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let third_llm = MockLlm::start().await;
    third_llm.set_default(Reply::text("resumed by the third"));
    let port = common::free_port();
    let (third, _) = spawn(&third_llm, first.dir.path(), port, &[]);
    first.child = third;
    first.base = format!("http://127.0.0.1:{port}");
    let run = first.wait_run(&dep, &run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(third_llm.requests().len(), 1, "the dead owner's run resumed exactly once");
    assert!(second_llm.requests().is_empty(), "the second process started before the owner died: not its run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_attachments_reach_vision_models_as_image_parts_in_each_wire_format() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("I see it."));
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, "[context]\nvision_models = [\"openai/gpt-vision-test\"]\n");
    let server = start_with(&llm, &[("HERMES_CONFIG", &config)]);
    let attachments = json!([
        {"url": "https://files.example.com/chart.png", "name": "chart", "content_type": "image/png"},
        {"url": "https://files.example.com/q3.pdf", "name": "q3.pdf", "content_type": "application/pdf"},
    ]);
    let mut seen = Vec::new();
    for model in ["anthropic/claude-test", "openai/gpt-vision-test", "openai/gpt-test"] {
        let body = json!({"customer_id": "cus_1", "name": "V", "model": model, "system_prompt": "Look.",
                          "features": {"memory": false}});
        let dep = common::create(&server, body).await;
        let before = llm.requests().len();
        let (status, t) = server
            .post_json(
                &format!("/v1/deployments/{dep}/messages"),
                &json!({"content": "What does the chart show?", "attachments": attachments}),
            )
            .await;
        assert_eq!(status, 202, "{t}");
        let run = server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "completed", "{run}");
        let req = llm.requests()[before].clone();
        let user = req["messages"].as_array().unwrap().iter().find(|m| m["role"] == "user").cloned().unwrap();
        seen.push((model, user));
    }
    // Anthropic: an image block by URL before the text (which still lists both).
    let blocks = seen[0].1["content"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "image");
    assert_eq!(blocks[0]["source"], json!({"type": "url", "url": "https://files.example.com/chart.png"}));
    assert!(blocks[1]["text"].as_str().unwrap().contains("q3.pdf"));
    assert_eq!(blocks.iter().filter(|b| b["type"] == "image").count(), 1, "the PDF is not an image");
    // OpenAI-compatible, configured as a vision model: an image_url part after the text.
    let parts = seen[1].1["content"].as_array().unwrap();
    assert_eq!(parts[0]["type"], "text");
    assert_eq!(parts[1], json!({"type": "image_url", "image_url": {"url": "https://files.example.com/chart.png"}}));
    assert_eq!(parts.len(), 2);
    // A model not known to take images gets the list as text only.
    let text = seen[2].1["content"].as_str().expect("plain text content");
    assert!(text.contains("chart: https://files.example.com/chart.png (image/png)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_only_the_hosted_scopes_creates_sends_and_streams() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("Hello from the agent."));
    let server = start(&llm);
    let dir = server.dir.path().to_str().unwrap();
    // The hosted docs know two scopes: write (create, update, delete, send) and read
    // (get, list, stream).
    let key = cli(&["keys", "create", "--data-dir", dir, "--scopes", "deployments:write,deployments:read"])
        .trim()
        .to_string();
    let body = json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Hi."});
    let (status, dep) = call(&server, "POST", "/v1/deployments", &key, Some(body)).await;
    assert_eq!(status, 201, "{dep}");
    let dep = dep["deployment_id"].as_str().unwrap().to_string();
    let (status, ticket) =
        call(&server, "POST", &format!("/v1/deployments/{dep}/messages"), &key, Some(json!({"content": "hi"}))).await;
    assert_eq!(status, 202, "deployments:write sends messages: {ticket}");
    let run = ticket["run_id"].as_str().unwrap().to_string();
    let log = sse::log(&server.base, &key, &dep).await;
    assert!(
        log.iter()
            .any(|f| f.event == "run_status" && f.data["run_id"] == run.as_str() && f.data["status"] == "completed"),
        "deployments:read streams the run's events"
    );
    // Read alone still cannot send.
    let reader = cli(&["keys", "create", "--data-dir", dir, "--scopes", "deployments:read"]).trim().to_string();
    let (status, _) =
        call(&server, "POST", &format!("/v1/deployments/{dep}/messages"), &reader, Some(json!({"content": "x"}))).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_an_openai_key_a_deployment_without_a_model_runs_on_openai() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("Answered by OpenAI."));
    let dir = tempfile::tempdir().unwrap();
    // Only OPENAI_API_KEY in the environment, no default_model configured.
    let host = Host::builder(dir.path()).env(env_for(&llm)).build().await.unwrap();
    let spec: DeploymentSpec =
        serde_json::from_value(json!({"customer_id": "c", "name": "n", "system_prompt": "p"})).unwrap();
    let dep = host.create_deployment(spec).await.unwrap();
    assert_eq!(dep.model, "openai/gpt-4.1");
    let ticket = host.send_message(&dep.deployment_id, "hi", ThreadTarget::Default).await.unwrap();
    let run = host.wait_for_run(&ticket.run_id).await.unwrap();
    assert_eq!(run.output.as_deref(), Some("Answered by OpenAI."), "{run:?}");
    assert_eq!(llm.requests()[0]["model"], "gpt-4.1");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_opened_without_a_cursor_starts_live_and_after_0_replays() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("Done."));
    let server = start(&llm);
    let dep = create_deployment(&server).await;
    let send = |content: &'static str| {
        let path = format!("/v1/deployments/{dep}/messages");
        let server = &server;
        async move { server.post_json(&path, &json!({"content": content})).await.1["run_id"].as_str().unwrap().to_string() }
    };
    let old = send("first").await;
    server.wait_run(&dep, &old).await;

    // The hosted quickstart: open the stream, then send, and wait for that run's end.
    let mut live = SseReader::open(&server.base, &server.key, &dep, "", None).await;
    let new = send("second").await;
    let mut seen = Vec::new();
    while let Some(f) = live.next(Duration::from_secs(10)).await {
        let done = f.event == "run_status" && f.data["run_id"] == new.as_str() && f.data["status"] == "completed";
        seen.push(f);
        if done {
            break;
        }
    }
    assert!(seen.iter().any(|f| f.event == "run_status" && f.data["status"] == "completed"), "the new run's end");
    assert!(seen.iter().all(|f| f.data["run_id"] != old.as_str()), "nothing of the earlier run is replayed");
    assert!(seen.iter().any(|f| f.event == "message" && f.data["content"] == "second"), "the new run from its start");
    // `?after=0` is the whole retained log, both runs.
    let log = sse::log(&server.base, &server.key, &dep).await;
    assert!(
        log.iter().any(|f| f.data["run_id"] == old.as_str()) && log.iter().any(|f| f.data["run_id"] == new.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_message_takes_hosted_attachments_and_answers_in_the_hosted_shape() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("Seen."));
    let server = start(&llm);
    let body = json!({"customer_id": "cus_1", "name": "V", "model": "anthropic/claude-test", "system_prompt": "Look.",
                      "features": {"memory": false}});
    let dep = common::create(&server, body).await;
    let attachments = json!([{"type": "image", "url": "https://files.example.com/photo"},
                             {"type": "file", "url": "https://files.example.com/report.pdf"}]);
    let (status, t) = server
        .post_json(
            &format!("/v1/deployments/{dep}/messages"),
            &json!({"content": "What is this?", "attachments": attachments}),
        )
        .await;
    assert_eq!(status, 202, "{t}");
    assert_eq!(t["deployment_id"], dep.as_str());
    assert_eq!(t["status"], "running", "an accepted run is running in the hosted statuses: {t}");
    assert!(t["queued"].is_boolean() && t["thread_id"].is_string(), "{t}");
    let run = server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed", "{run}");
    // The image reached the (vision) model as an image part; the file as text only.
    let req = llm.requests()[0].clone();
    let user = req["messages"].as_array().unwrap().iter().find(|m| m["role"] == "user").cloned().unwrap();
    let blocks = user["content"].as_array().unwrap();
    assert_eq!(blocks[0]["source"]["url"], "https://files.example.com/photo");
    assert_eq!(blocks.iter().filter(|b| b["type"] == "image").count(), 1);
    assert!(blocks.last().unwrap()["text"].as_str().unwrap().contains("report.pdf (file)"));
    // Stored as sent: the history returns the hosted fields.
    let thread = server.get_json(&format!("/v1/deployments/{dep}/threads/{}", t["thread_id"].as_str().unwrap())).await;
    assert!(thread.to_string().contains(r#""type":"image""#), "{thread}");
    // An unknown kind is a clear 400.
    let bad = json!({"content": "x", "attachments": [{"type": "hologram", "url": "https://x.example/a"}]});
    let (status, err) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &bad).await;
    assert_eq!(status, 400, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_busy_thread_cancels_its_run_and_the_thread_shows_its_status() {
    let llm = MockLlm::start().await;
    llm.push(Reply::Hang);
    let server = start(&llm);
    let dep = create_deployment(&server).await;
    let (_, t) = call(
        &server,
        "POST",
        &format!("/v1/deployments/{dep}/messages"),
        &server.key,
        Some(json!({"content": "hi", "thread_id": "new"})),
    )
    .await;
    let (run, tid) = (t["run_id"].as_str().unwrap().to_string(), t["thread_id"].as_str().unwrap().to_string());
    server.wait_status(&dep, &run, "running").await;
    let thread = server.get_json(&format!("/v1/deployments/{dep}/threads/{tid}")).await;
    assert_eq!((thread["status"].as_str(), thread["message_count"].as_u64()), (Some("running"), Some(1)), "{thread}");

    let (s, body) = call(&server, "DELETE", &format!("/v1/deployments/{dep}/threads/{tid}"), &server.key, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(server.get_json(&format!("/v1/deployments/{dep}/runs/{run}")).await["status"], "cancelled");
    let (s, _) = call(&server, "GET", &format!("/v1/deployments/{dep}/threads/{tid}"), &server.key, None).await;
    assert_eq!(s, 404);
}
