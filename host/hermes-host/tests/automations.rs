//! Automations through the real binary over HTTP. The scheduler's clock is the
//! testing-only file clock (`[automations] clock_file` + `HERMES_ALLOW_TEST_CLOCK=1`):
//! tests move time by rewriting a file, never by sleeping through minutes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, cli, free_port, spawn};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// The test's clock file and config, outside the data dir.
struct Clock {
    _dir: tempfile::TempDir,
    file: PathBuf,
    config: PathBuf,
}

impl Clock {
    fn new(now: &str, extra: &str) -> Clock {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("now.txt");
        let config = dir.path().join("hermes.toml");
        std::fs::write(&file, now).unwrap();
        std::fs::write(
            &config,
            format!("[automations]\ntick_ms = 50\nclock_file = {:?}\n{extra}", file.display().to_string()),
        )
        .unwrap();
        Clock { _dir: dir, file, config }
    }

    fn set(&self, now: &str) {
        // Write-then-rename: the reader never sees a half-written time.
        let tmp = self.file.with_extension("tmp");
        std::fs::write(&tmp, now).unwrap();
        std::fs::rename(&tmp, &self.file).unwrap();
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("HERMES_CONFIG", self.config.display().to_string()), ("HERMES_ALLOW_TEST_CLOCK", "1".into())]
    }
}

fn start(llm: &MockLlm, clock: &Clock) -> Server {
    let env = clock.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::start_with(llm, &env)
}

/// Starts another process of the binary on `data_dir` (same clock and config).
fn spawn_on(llm: &MockLlm, clock: &Clock, data_dir: &Path) -> (std::process::Child, String) {
    let env = clock.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let port = free_port();
    let (child, _) = spawn(llm, data_dir, port, &env);
    (child, format!("http://127.0.0.1:{port}"))
}

/// A deployment without memory (its observation calls would take scripted replies).
async fn deployment(server: &Server) -> String {
    let body = json!({"customer_id": "cus_1", "name": "A", "model": "openai/gpt-test", "system_prompt": "Be brief.",
        "features": {"memory": false}});
    let (status, d) = server.post_json("/v1/deployments", &body).await;
    assert_eq!(status, 201, "{d}");
    d["deployment_id"].as_str().unwrap().to_string()
}

async fn request(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", server.base))
        .bearer_auth(&server.key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn create(server: &Server, dep: &str, body: Value) -> Value {
    let (status, a) = server.post_json(&format!("/v1/deployments/{dep}/automations"), &body).await;
    assert_eq!(status, 201, "{a}");
    a
}

/// Polls an automation until `done` holds (at most ~10 s).
async fn wait_for(server: &Server, dep: &str, aid: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/v1/deployments/{dep}/automations/{aid}");
    for _ in 0..400 {
        let a = server.get_json(&path).await;
        if done(&a) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("automation {aid} never reached the expected state: {}", server.get_json(&path).await);
}

/// Several scheduler ticks (50 ms each) with room to spare.
async fn a_few_ticks() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn create_list_patch_delete_with_parsed_schedules_paging_and_scopes() {
    let llm = MockLlm::start().await;
    let clock = Clock::new("2030-01-07T08:00:00Z", ""); // a Monday
    let server = start(&llm, &clock);
    let dep = deployment(&server).await;
    let base = format!("/v1/deployments/{dep}/automations");

    let weekly =
        create(&server, &dep, json!({"name": "Weekly", "schedule": "every Monday at 9am", "instructions": "Report"}))
            .await;
    assert!(weekly["automation_id"].as_str().unwrap().starts_with("auto_"));
    assert_eq!(weekly["cron"], "0 9 * * 1");
    assert_eq!(weekly["next_run_at"], "2030-01-07T09:00:00.000Z");
    assert_eq!((weekly["last_run_at"].clone(), weekly["last_run_status"].clone()), (Value::Null, Value::Null));
    assert_eq!(weekly["enabled"], true);
    let paris = create(
        &server,
        &dep,
        json!({"name": "Paris", "schedule": "30 8 * * *", "timezone": "Europe/Paris", "instructions": "Bonjour"}),
    )
    .await;
    assert_eq!(paris["next_run_at"], "2030-01-08T07:30:00.000Z", "08:30 in Paris is 07:30 UTC in winter");
    let every = create(&server, &dep, json!({"name": "Poll", "schedule": "every 2h", "instructions": "Poll"})).await;
    assert_eq!(
        (every["interval_seconds"].as_u64(), every["next_run_at"].as_str()),
        (Some(7200), Some("2030-01-07T10:00:00.000Z"))
    );
    // Without thread_id, each automation gets its own thread, not the default one.
    let threads = server.get_json(&format!("/v1/deployments/{dep}/threads?limit=100")).await;
    let thread = threads["data"].as_array().unwrap().iter().find(|t| t["thread_id"] == weekly["thread_id"]).unwrap();
    assert_eq!((thread["is_default"].as_bool(), thread["title"].as_str()), (Some(false), Some("Automation: Weekly")));

    // Invalid or unclear schedules: 400 with the reason, never a guess.
    for (schedule, why) in [
        ("every day", "at what time"),
        ("every day at 9", "ambiguous"),
        ("next tuesday-ish", "5 fields"),
        ("61 * * * *", "invalid cron"),
        ("every 5s", "unit"),
    ] {
        let (status, e) =
            server.post_json(&base, &json!({"name": "x", "schedule": schedule, "instructions": "y"})).await;
        assert_eq!(
            (status, e["error"].as_str(), e["param"].as_str()),
            (400, Some("validation_error"), Some("schedule")),
            "{schedule}: {e}"
        );
        assert!(e["message"].as_str().unwrap().contains(why), "{schedule}: {e}");
    }
    let (status, e) = server
        .post_json(&base, &json!({"name": "x", "schedule": "0 9 * * *", "timezone": "Mars/Base", "instructions": "y"}))
        .await;
    assert_eq!((status, e["param"].as_str()), (400, Some("timezone")), "{e}");
    let (status, e) =
        server.post_json(&base, &json!({"name": "x", "schedule": "every 1h", "instructions": "y", "bogus": 1})).await;
    assert_eq!(status, 400, "{e}");
    let (status, _) = server
        .post_json(&base, &json!({"name": "x", "schedule": "every 1h", "instructions": "y", "thread_id": "thr_nope"}))
        .await;
    assert_eq!(status, 404);

    // Cursor paging, newest first.
    let page = server.get_json(&format!("{base}?limit=2")).await;
    let ids: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|a| a["automation_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [every["automation_id"].as_str().unwrap(), paris["automation_id"].as_str().unwrap()]);
    assert_eq!(page["has_more"], true);
    let rest = server.get_json(&format!("{base}?limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(rest["data"][0]["automation_id"], weekly["automation_id"]);
    assert_eq!(rest["has_more"], false);
    assert_eq!(request(&server, "GET", &format!("{base}?cursor=auto_unknown"), None).await.0, 400);

    // Pause, then resume; change the schedule.
    let wid = weekly["automation_id"].as_str().unwrap();
    let (status, paused) = request(&server, "PATCH", &format!("{base}/{wid}"), Some(json!({"enabled": false}))).await;
    assert_eq!((status, paused["enabled"].as_bool(), paused["next_run_at"].clone()), (200, Some(false), Value::Null));
    let (_, resumed) = request(
        &server,
        "PATCH",
        &format!("{base}/{wid}"),
        Some(json!({"enabled": true, "schedule": "every weekday at 18:00"})),
    )
    .await;
    assert_eq!(
        (resumed["cron"].as_str(), resumed["next_run_at"].as_str()),
        (Some("0 18 * * 1-5"), Some("2030-01-07T18:00:00.000Z"))
    );
    let (status, e) = request(&server, "PATCH", &format!("{base}/{wid}"), Some(json!({"schedule": "whenever"}))).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("schedule")), "{e}");
    let one = server.get_json(&format!("{base}/{wid}")).await;
    assert_eq!((one["name"].as_str(), one["recent_runs"].as_array().map(Vec::len)), (Some("Weekly"), Some(0)));

    // Scopes: a read-only key reads but cannot write or run.
    let dir = server.dir.path().display().to_string();
    let reader = cli(&["keys", "create", "--data-dir", &dir, "--scopes", "deployments:read"]).trim().to_string();
    let as_reader = |method: &str, path: String| {
        reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", server.base)).bearer_auth(&reader)
    };
    assert_eq!(as_reader("GET", base.clone()).send().await.unwrap().status(), 200);
    let valid = json!({"name": "x", "schedule": "every 1h", "instructions": "y"});
    let denied = as_reader("POST", base.clone()).json(&valid).send().await.unwrap();
    assert_eq!(denied.status(), 403);
    assert_eq!(as_reader("POST", format!("{base}/{wid}/run")).send().await.unwrap().status(), 403);
    assert_eq!(as_reader("DELETE", format!("{base}/{wid}")).send().await.unwrap().status(), 403);
    let patch = as_reader("PATCH", format!("{base}/{wid}")).json(&json!({"enabled": false})).send().await.unwrap();
    assert_eq!(patch.status(), 403);

    // Delete.
    let (status, d) = request(&server, "DELETE", &format!("{base}/{wid}"), None).await;
    assert_eq!((status, d["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(request(&server, "GET", &format!("{base}/{wid}"), None).await.0, 404);
    assert_eq!(request(&server, "DELETE", &format!("{base}/{wid}"), None).await.0, 404);

    // Every operation is in the OpenAPI document.
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.base)).await.unwrap().json().await.unwrap();
    let paths = &doc["paths"];
    for (path, method) in [
        ("/v1/deployments/{id}/automations", "post"),
        ("/v1/deployments/{id}/automations", "get"),
        ("/v1/deployments/{id}/automations/{aid}", "get"),
        ("/v1/deployments/{id}/automations/{aid}", "patch"),
        ("/v1/deployments/{id}/automations/{aid}", "delete"),
        ("/v1/deployments/{id}/automations/{aid}/run", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} is documented");
    }
    assert!(doc["components"]["schemas"]["Automation"]["properties"]["next_run_at"].is_object());
}

#[tokio::test]
async fn a_due_slot_starts_a_normal_run_on_the_automation_thread_with_automation_events() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("Daily report sent."));
    let clock = Clock::new("2030-01-07T08:59:00Z", "");
    let server = start(&llm, &clock);
    let dep = deployment(&server).await;
    let a = create(
        &server,
        &dep,
        json!({"name": "Daily", "schedule": "every day at 09:00", "instructions": "Send the daily report"}),
    )
    .await;
    let aid = a["automation_id"].as_str().unwrap();

    a_few_ticks().await;
    assert!(llm.requests().is_empty(), "nothing fires before its slot");
    clock.set("2030-01-07T09:00:20Z");
    let done = wait_for(&server, &dep, aid, |a| a["last_run_status"] == "completed").await;
    assert_eq!(done["last_run_at"], "2030-01-07T09:00:20.000Z");
    assert_eq!(done["next_run_at"], "2030-01-08T09:00:00.000Z");
    let fires = done["recent_runs"].as_array().unwrap();
    assert_eq!(fires.len(), 1, "{done}");
    assert_eq!(
        (fires[0]["trigger"].as_str(), fires[0]["scheduled_for"].as_str()),
        (Some("schedule"), Some("2030-01-07T09:00:00.000Z"))
    );
    let run_id = fires[0]["run_id"].as_str().unwrap();
    assert_eq!(done["last_run_id"], run_id);

    // A normal run: the model saw the instructions, the thread holds the exchange,
    // the run has usage.
    let last = llm.requests().last().cloned().unwrap();
    assert!(last["messages"].to_string().contains("Send the daily report"), "{last}");
    let run = server.wait_run(&dep, run_id).await;
    assert_eq!(run["status"], "completed");
    let thread = server.get_json(&format!("/v1/deployments/{dep}/threads/{}", a["thread_id"].as_str().unwrap())).await;
    let contents: Vec<&str> =
        thread["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["Send the daily report", "Daily report sent."]);

    let log = common::sse::log(&server.base, &server.key, &dep).await;
    let actions: Vec<&str> =
        log.iter().filter(|f| f.event == "automation").map(|f| f.data["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "fired"]);
    let fired = log.iter().find(|f| f.event == "automation" && f.data["action"] == "fired").unwrap();
    assert_eq!((fired.data["run_id"].as_str(), fired.data["automation_id"].as_str()), (Some(run_id), Some(aid)));
    assert!(
        log.iter().any(|f| f.event == "run_status" && f.data["run_id"] == run_id && f.data["status"] == "completed")
    );

    a_few_ticks().await;
    let again = server.get_json(&format!("/v1/deployments/{dep}/automations/{aid}")).await;
    assert_eq!(again["recent_runs"].as_array().unwrap().len(), 1, "one slot, one fire");
}

#[tokio::test]
async fn after_downtime_across_slots_it_fires_once_not_a_burst() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let clock = Clock::new("2030-01-07T10:00:30Z", "");
    let mut server = start(&llm, &clock);
    let dep = deployment(&server).await;
    let a = create(&server, &dep, json!({"name": "Hourly", "schedule": "0 * * * *", "instructions": "Check"})).await;
    let aid = a["automation_id"].as_str().unwrap().to_string();
    assert_eq!(a["next_run_at"], "2030-01-07T11:00:00.000Z");

    // Down from before the 11:00 slot until after 15:00: five slots missed.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    clock.set("2030-01-07T15:30:00Z");
    let (child, _) = spawn(
        &llm,
        server.dir.path(),
        server.port,
        &clock.env().iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
    );
    server.child = child;

    wait_for(&server, &dep, &aid, |a| a["last_run_status"] == "completed").await;
    a_few_ticks().await;
    let done = server.get_json(&format!("/v1/deployments/{dep}/automations/{aid}")).await;
    let fires = done["recent_runs"].as_array().unwrap();
    assert_eq!(fires.len(), 1, "missed slots run once, not as a burst: {done}");
    assert_eq!(fires[0]["scheduled_for"], "2030-01-07T11:00:00.000Z", "the earliest missed slot");
    assert_eq!(done["next_run_at"], "2030-01-07T16:00:00.000Z", "then the first slot after now");

    // Restarting again (same time) fires nothing more: the claim is in SQLite.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let (child, _) = spawn(
        &llm,
        server.dir.path(),
        server.port,
        &clock.env().iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
    );
    server.child = child;
    a_few_ticks().await;
    let after = server.get_json(&format!("/v1/deployments/{dep}/automations/{aid}")).await;
    assert_eq!(after["recent_runs"].as_array().unwrap().len(), 1, "{after}");
    clock.set("2030-01-07T16:00:05Z");
    let next = wait_for(&server, &dep, &aid, |a| a["recent_runs"].as_array().is_some_and(|r| r.len() == 2)).await;
    assert_eq!(next["recent_runs"][0]["scheduled_for"], "2030-01-07T16:00:00.000Z");
}

#[tokio::test]
async fn two_processes_on_one_data_dir_never_fire_a_slot_twice() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let clock = Clock::new("2030-01-07T10:00:00Z", "");
    let server = start(&llm, &clock);
    let dep = deployment(&server).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let a =
            create(&server, &dep, json!({"name": format!("a{i}"), "schedule": "* * * * *", "instructions": "Tick"}))
                .await;
        ids.push(a["automation_id"].as_str().unwrap().to_string());
    }
    // The second process starts before any run exists and ticks every 50 ms too. It
    // has its own clock file (so the test decides who sees a slot first) and its own
    // mock model (so each process's share of the fires is visible).
    let clock2 = Clock::new("2030-01-07T10:00:00Z", "");
    let llm2 = MockLlm::start().await;
    llm2.set_default(Reply::text("ok"));
    let (mut second, second_base) = spawn_on(&llm2, &clock2, server.dir.path());
    let health = reqwest::get(format!("{second_base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);

    let all_fired = |minute: usize| {
        move |a: &Value| {
            a["recent_runs"].as_array().is_some_and(|r| r.len() == minute) && r_all_finished(&a["recent_runs"])
        }
    };
    for minute in 1..=6usize {
        let now = format!("2030-01-07T10:{minute:02}:01Z");
        // Odd minutes: the second process sees the slot first, then the first one
        // does; even minutes the other way round; from minute 5 both at once (a race).
        let (early, late) = if minute % 2 == 1 { (&clock2, &clock) } else { (&clock, &clock2) };
        if minute >= 5 {
            clock.set(&now);
            clock2.set(&now);
        } else {
            early.set(&now);
            for id in &ids {
                wait_for(&server, &dep, id, all_fired(minute)).await;
            }
            late.set(&now);
            a_few_ticks().await;
        }
        for id in &ids {
            wait_for(&server, &dep, id, all_fired(minute)).await;
        }
    }
    a_few_ticks().await;
    for id in &ids {
        let a = server.get_json(&format!("/v1/deployments/{dep}/automations/{id}")).await;
        let fires = a["recent_runs"].as_array().unwrap();
        let slots: Vec<&str> = fires.iter().map(|f| f["scheduled_for"].as_str().unwrap()).collect();
        let expected: Vec<String> = (1..=6).rev().map(|m| format!("2030-01-07T10:{m:02}:00.000Z")).collect();
        assert_eq!(slots, expected, "each slot fired exactly once: {a}");
        assert!(fires.iter().all(|f| f["status"] == "completed"), "{a}");
    }
    let (first_share, second_share) = (llm.requests().len(), llm2.requests().len());
    assert_eq!(first_share + second_share, 6 * ids.len(), "one model call per fired slot");
    // Minutes 1 and 3 went to the second process, 2 and 4 to the first.
    assert!(first_share >= 2 * ids.len() && second_share >= 2 * ids.len(), "{first_share} + {second_share}");
    let _ = second.kill();
    let _ = second.wait();
}

fn r_all_finished(fires: &Value) -> bool {
    fires
        .as_array()
        .is_some_and(|r| r.iter().all(|f| matches!(f["status"].as_str(), Some("completed" | "error" | "skipped"))))
}

#[tokio::test]
async fn run_now_starts_a_run_and_without_credits_a_slot_is_skipped_once_not_retried() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("done"));
    let clock = Clock::new("2030-01-07T10:00:00Z", "");
    let server = start(&llm, &clock);
    let dep = deployment(&server).await;
    let a = create(&server, &dep, json!({"name": "Now", "schedule": "every 1h", "instructions": "Do it"})).await;
    let aid = a["automation_id"].as_str().unwrap();
    let base = format!("/v1/deployments/{dep}/automations/{aid}");

    let (status, fired) = server.post_json(&format!("{base}/run"), &json!({})).await;
    assert_eq!((status, fired["status"].as_str()), (202, Some("queued")), "{fired}");
    assert_eq!(fired["thread_id"], a["thread_id"]);
    let run = server.wait_run(&dep, fired["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "completed");
    let after = server.get_json(&base).await;
    assert_eq!(
        (after["last_run_status"].as_str(), after["recent_runs"][0]["trigger"].as_str()),
        (Some("completed"), Some("manual"))
    );
    assert_eq!(after["next_run_at"], a["next_run_at"], "run-now leaves the schedule alone");
    assert_eq!(
        request(&server, "POST", &format!("/v1/deployments/{dep}/automations/auto_nope/run"), None).await.0,
        404
    );

    // No credits: run-now is 402; a due slot is recorded as skipped and the
    // schedule moves on (no retry loop).
    cli(&["credits", "set", "--data-dir", &server.dir.path().display().to_string(), "0"]);
    let (status, e) = server.post_json(&format!("{base}/run"), &json!({})).await;
    assert_eq!((status, e["error"].as_str()), (402, Some("insufficient_credits")), "{e}");
    let calls = llm.requests().len();
    clock.set("2030-01-07T11:00:10Z");
    wait_for(&server, &dep, aid, |a| a["last_run_status"] == "skipped").await;
    a_few_ticks().await;
    let skipped = server.get_json(&base).await;
    let fires = skipped["recent_runs"].as_array().unwrap();
    assert_eq!(fires.len(), 2, "one manual run, one skipped slot: {skipped}");
    assert_eq!(
        (fires[0]["status"].as_str(), fires[0]["reason"].as_str(), fires[0]["run_id"].clone()),
        (Some("skipped"), Some("insufficient_credits"), Value::Null)
    );
    assert_eq!(skipped["next_run_at"], "2030-01-07T12:00:00.000Z");
    assert_eq!(llm.requests().len(), calls, "no model call without credits");
    let log = common::sse::log(&server.base, &server.key, &dep).await;
    assert!(log.iter().any(|f| f.event == "automation"
        && f.data["action"] == "skipped"
        && f.data["reason"] == "insufficient_credits"));
}

#[tokio::test]
async fn the_agent_creates_an_automation_with_its_tool_but_not_from_inside_an_automation_run() {
    let llm = MockLlm::start().await;
    let clock = Clock::new("2030-01-07T10:00:00Z", "");
    let server = start(&llm, &clock);
    let dep = deployment(&server).await;
    llm.push(Reply::tool(
        "automation_create",
        json!({"name": "Standup", "schedule": "every weekday at 9:30am", "instructions": "Post the standup summary"}),
    ));
    llm.push(Reply::text("Scheduled."));
    let (status, t) = server
        .post_json(
            &format!("/v1/deployments/{dep}/messages"),
            &json!({"content": "Every weekday at 9:30, post the standup"}),
        )
        .await;
    assert_eq!(status, 202, "{t}");
    assert_eq!(server.wait_run(&dep, t["run_id"].as_str().unwrap()).await["status"], "completed");
    let offered = llm.requests()[0]["tools"].to_string();
    assert!(offered.contains("automation_create") && offered.contains("automation_pause"), "{offered}");
    let tool_result = llm.requests()[1]["messages"].to_string();
    assert!(tool_result.contains("Created: auto_"), "{tool_result}");

    let list = server.get_json(&format!("/v1/deployments/{dep}/automations")).await;
    let a = &list["data"][0];
    assert_eq!((a["name"].as_str(), a["cron"].as_str()), (Some("Standup"), Some("30 9 * * 1-5")));
    assert_eq!(a["next_run_at"], "2030-01-08T09:30:00.000Z");
    let aid = a["automation_id"].as_str().unwrap();

    // Its run tries to schedule more: refused (config does not allow it).
    llm.push(Reply::tool("automation_create", json!({"name": "More", "schedule": "every 1m", "instructions": "Loop"})));
    llm.push(Reply::text("Could not."));
    clock.set("2030-01-08T09:30:05Z");
    let done = wait_for(&server, &dep, aid, |a| a["last_run_status"] == "completed").await;
    assert_eq!(done["recent_runs"].as_array().unwrap().len(), 1);
    let refused = llm.requests().last().unwrap()["messages"].to_string();
    assert!(refused.contains("inside an automation"), "{refused}");
    let list = server.get_json(&format!("/v1/deployments/{dep}/automations")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "nothing created from the automation run");

    // Without the feature the tools are not offered.
    let (status, _) = request(
        &server,
        "PATCH",
        &format!("/v1/deployments/{dep}"),
        Some(json!({"features": {"automations": false, "memory": false}})),
    )
    .await;
    assert_eq!(status, 200);
    llm.push(Reply::text("Hi."));
    let (_, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &json!({"content": "hello"})).await;
    server.wait_run(&dep, t["run_id"].as_str().unwrap()).await;
    assert!(!llm.requests().last().unwrap()["tools"].to_string().contains("automation_"));
}

#[tokio::test]
async fn a_test_clock_without_its_environment_switch_refuses_to_start() {
    let llm = MockLlm::start().await;
    let clock = Clock::new("2030-01-07T10:00:00Z", "");
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hermes-host"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path())
        .env("HERMES_CONFIG", &clock.config)
        .env("OPENAI_BASE_URL", llm.openai_base_url())
        .env_remove("HERMES_ALLOW_TEST_CLOCK")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HERMES_ALLOW_TEST_CLOCK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Library level: `HostBuilder::clock` with a `ManualClock`, one scheduler pass at a
/// time. A slot whose thread is busy, or whose deployment turned the feature off, is
/// recorded as skipped once and the schedule moves on.
#[tokio::test]
async fn busy_thread_and_feature_off_slots_are_skipped_once_with_a_manual_clock() {
    use hermes_host::automations::{ManualClock, NewAutomation};
    use hermes_host::{DEFAULT_ACCOUNT, Host, HostConfig, ThreadTarget};

    let llm = MockLlm::start().await;
    llm.set_default(Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2030-01-07T10:00:00Z").unwrap().to_utc();
    let clock = std::sync::Arc::new(ManualClock::new(t0));
    let mut config = HostConfig::default();
    config.automations.tick_ms = 3_600_000; // passes are driven by the test
    let env = std::collections::HashMap::from([
        ("OPENAI_API_KEY".to_string(), "sk-test".to_string()),
        ("OPENAI_BASE_URL".to_string(), llm.openai_base_url()),
    ]);
    let host = Host::builder(dir.path()).config(config).env(env).clock(clock.clone()).build().await.unwrap();
    let spec = serde_json::from_value(json!({"customer_id": "c", "name": "n", "model": "openai/gpt-test",
        "system_prompt": "p", "features": {"memory": false}}))
    .unwrap();
    let d = host.create_deployment(spec).await.unwrap();
    let new = NewAutomation {
        name: "On the default thread".into(),
        schedule: "every 1h".into(),
        instructions: "Check".into(),
        thread_id: Some(d.thread_id.clone()),
        ..NewAutomation::default()
    };
    let a = host.create_automation(DEFAULT_ACCOUNT, &d.deployment_id, new).await.unwrap();
    assert_eq!(a.next_run_at.as_deref(), Some("2030-01-07T11:00:00.000Z"));
    assert_eq!(host.run_due_automations().await.unwrap(), 0, "nothing due yet");

    // A conversation holds the thread (its model call hangs) when the slot comes.
    let ticket = host.send_message(&d.deployment_id, "hello", ThreadTarget::Default).await.unwrap();
    clock.advance(chrono::Duration::minutes(61));
    assert_eq!(host.run_due_automations().await.unwrap(), 1);
    assert_eq!(host.run_due_automations().await.unwrap(), 0, "a skipped slot is not retried");
    let got = host.automation(DEFAULT_ACCOUNT, &d.deployment_id, &a.automation_id).await.unwrap();
    let fires = got.recent_runs.unwrap();
    assert_eq!((fires.len(), fires[0].reason.as_deref()), (1, Some("thread_busy")));
    assert_eq!(got.next_run_at.as_deref(), Some("2030-01-07T12:00:00.000Z"));
    host.cancel_run(&ticket.run_id).await.unwrap();
    host.wait_for_run(&ticket.run_id).await.unwrap();

    // The deployment turns the feature off: the next slot is skipped and said why.
    host.patch_deployment(DEFAULT_ACCOUNT, &d.deployment_id, json!({"features": {"automations": false}}))
        .await
        .unwrap();
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(host.run_due_automations().await.unwrap(), 1);
    let got = host.automation(DEFAULT_ACCOUNT, &d.deployment_id, &a.automation_id).await.unwrap();
    let fires = got.recent_runs.unwrap();
    assert_eq!((fires.len(), fires[0].reason.as_deref()), (2, Some("automations_disabled")));
    assert_eq!(got.last_run_status.as_deref(), Some("skipped"));
    host.shutdown().await;
}
