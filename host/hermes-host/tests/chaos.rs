//! The chaos test: 50 runs with tool calls across 10 deployments while the server is
//! `kill -9`ed and restarted 5 times at points spread over the work. Afterwards every
//! run is terminal, no tool call ran twice (counted on the tool's side: each call
//! appends its token to a file in the workspace) and each one whose result the model
//! saw as a success ran exactly once, every deployment's event log is gap-free and
//! duplicate-free, and every automation fired exactly once per slot (a test clock
//! moves one minute between kills).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::sse;
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

const DEPLOYMENTS: usize = 10;
const RUNS_EACH: usize = 5;
const KILLS: usize = 5;

/// A small deterministic spread (no RNG needed): 100–700 ms from a token.
fn jitter(token: &str) -> u64 {
    100 + token.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 600
}

/// The model: on a run's first turn, one shell call appending the run's token to
/// `calls.log` and then lingering (so kills land inside calls, after their effect);
/// once the tool's result is in, a final answer.
fn respond(req: &Value) -> Option<Reply> {
    let messages = req["messages"].as_array()?;
    let user = messages.iter().rev().find(|m| m["role"] == "user")?;
    let text = match &user["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => return None,
    };
    let token = text.split_whitespace().find(|w| w.starts_with("tok-"))?.to_string();
    let delay = jitter(&token);
    if messages.last()?["role"] == "tool" {
        return Some(Reply::after_ms(delay, Reply::text("done")));
    }
    let command = format!("echo {token} >> calls.log && sleep 0.4");
    Some(Reply::after_ms(delay, Reply::tool("shell", json!({"command": command}))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_runs_and_ten_automations_survive_five_kill_9s_with_no_tool_call_run_twice() {
    let llm = MockLlm::start().await;
    llm.set_responder(respond);
    // A clock the test moves: the scheduler reads it from a file.
    let clock_dir = tempfile::tempdir().unwrap();
    let clock = clock_dir.path().join("now.txt");
    let set_clock = |now: &str| {
        let tmp = clock.with_extension("tmp");
        std::fs::write(&tmp, now).unwrap();
        std::fs::rename(&tmp, &clock).unwrap();
    };
    set_clock("2030-01-07T10:00:30Z");
    let config = clock_dir.path().join("hermes.toml");
    std::fs::write(&config, format!("[automations]\ntick_ms = 50\nclock_file = {:?}\n", clock.display().to_string()))
        .unwrap();
    let env = [("HERMES_CONFIG", config.to_str().unwrap()), ("HERMES_ALLOW_TEST_CLOCK", "1")];
    let mut server = common::start_with(&llm, &env);
    let mut deployments = Vec::new();
    for d in 0..DEPLOYMENTS {
        let body = json!({"customer_id": format!("cus_{d}"), "name": "C", "model": "openai/gpt-test",
                          "system_prompt": "Be brief.", "features": {"memory": false}});
        let (status, dep) = server.post_json("/v1/deployments", &body).await;
        assert_eq!(status, 201, "{dep}");
        deployments.push(dep["deployment_id"].as_str().unwrap().to_string());
    }
    // One automation per deployment, every minute; its runs make a shell call too.
    let mut automations = Vec::new();
    for (d, dep) in deployments.iter().enumerate() {
        let body = json!({"name": "Tick", "schedule": "* * * * *", "instructions": format!("job tok-auto-{d}")});
        let (status, a) = server.post_json(&format!("/v1/deployments/{dep}/automations"), &body).await;
        assert_eq!(status, 201, "{a}");
        automations.push((dep.clone(), a["automation_id"].as_str().unwrap().to_string(), format!("tok-auto-{d}")));
    }
    // (deployment, run, token) for every message, sent in a burst.
    let mut runs = Vec::new();
    for r in 0..RUNS_EACH {
        for (d, dep) in deployments.iter().enumerate() {
            let token = format!("tok-{d}-{r}");
            let body = json!({"content": format!("job {token}"), "thread_id": "new"});
            let (status, t) = server.post_json(&format!("/v1/deployments/{dep}/messages"), &body).await;
            assert_eq!(status, 202, "{t}");
            runs.push((dep.clone(), t["run_id"].as_str().unwrap().to_string(), token));
        }
    }
    // kill -9 and restart at points spread over the work; the clock moves one minute
    // before each kill, so every automation has a slot due around it.
    for k in 0..KILLS {
        // The previous minute's automation runs end first (a slot due while its
        // thread is busy is skipped, by design, and would not show a fire).
        for (dep, aid, _) in &automations {
            for _ in 0..400 {
                let a = server.get_json(&format!("/v1/deployments/{dep}/automations/{aid}")).await;
                if !matches!(a["last_run_status"].as_str(), Some("queued" | "running")) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        set_clock(&format!("2030-01-07T10:{:02}:01Z", k + 1));
        tokio::time::sleep(Duration::from_millis(250 + (k as u64 * 173) % 400)).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let (child, _) = common::spawn(&llm, server.dir.path(), server.port, &env);
        server.child = child;
    }
    // Every run ends.
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for (dep, run_id, _) in &runs {
        let run = server.wait_run(dep, run_id).await;
        let status = run["status"].as_str().unwrap_or_default().to_string();
        assert!(matches!(status.as_str(), "completed" | "error" | "cancelled"), "run {run_id} ended {run}");
        *statuses.entry(status).or_default() += 1;
    }
    assert_eq!(statuses.get("completed"), Some(&runs.len()), "every run completed: {statuses:?}");
    // Every automation fired once for each of the five slots, and each fire completed.
    let expected: Vec<String> = (1..=KILLS).rev().map(|m| format!("2030-01-07T10:{m:02}:00.000Z")).collect();
    let mut fired: HashMap<String, usize> = HashMap::new();
    for (dep, aid, token) in &automations {
        let mut a = Value::Null;
        for _ in 0..600 {
            a = server.get_json(&format!("/v1/deployments/{dep}/automations/{aid}")).await;
            let fires = a["recent_runs"].as_array().cloned().unwrap_or_default();
            if fires.len() >= KILLS && fires.iter().all(|f| f["status"] == "completed") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let fires = a["recent_runs"].as_array().cloned().unwrap_or_default();
        let slots: Vec<&str> = fires.iter().filter_map(|f| f["scheduled_for"].as_str()).collect();
        assert_eq!(slots, expected, "{aid}: each slot fired exactly once: {a}");
        assert!(fires.iter().all(|f| f["status"] == "completed"), "{a}");
        fired.insert(token.clone(), fires.len());
    }

    let mut executed_total = 0;
    let mut interrupted_total = 0;
    for dep in &deployments {
        // The tool's side: each token the shell appended.
        let (status, log) = common::file(&server, dep, "calls.log").await;
        let log = if status == 200 { log } else { String::new() };
        let mut count: HashMap<&str, usize> = HashMap::new();
        for line in log.lines() {
            *count.entry(line.trim()).or_default() += 1;
        }
        // The host's side: the events, contiguous and each once.
        let frames = sse::log(&server.base, &server.key, dep).await;
        let seqs: Vec<u64> = frames.iter().map(sse::Frame::seq).collect();
        assert!(!seqs.is_empty());
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{dep}: gaps or duplicates in {seqs:?}");
        assert_eq!(seqs[0], 1, "{dep}: the log starts at 1");
        // Which calls the model saw succeed, and which a restart interrupted.
        let mut token_of_call: HashMap<String, String> = HashMap::new();
        for f in frames.iter().filter(|f| f.event == "tool_call") {
            let command = f.data["arguments"]["command"].as_str().unwrap_or_default();
            let token = command.split_whitespace().find(|w| w.starts_with("tok-")).unwrap_or_default();
            token_of_call.insert(f.data["call_id"].as_str().unwrap_or_default().to_string(), token.to_string());
        }
        for f in frames.iter().filter(|f| f.event == "tool_result") {
            let token = &token_of_call[f.data["call_id"].as_str().unwrap_or_default()];
            let ran = count.get(token.as_str()).copied().unwrap_or(0);
            if token.starts_with("tok-auto-") {
                continue;
            }
            if f.data["is_error"] == true {
                assert!(f.data["preview"].as_str().unwrap_or_default().contains("interrupted"), "{}", f.data);
                assert!(ran <= 1, "{token} ran {ran} times");
                interrupted_total += 1;
            } else {
                assert_eq!(ran, 1, "{token}: a call whose success the model saw ran {ran} times");
            }
        }
        for (token, n) in &count {
            // An automation's token is appended once per fire at most.
            let most = fired.get(*token).copied().unwrap_or(1);
            assert!(*n <= most, "{dep}: {token} ran {n} times (at most {most})");
        }
        executed_total += count.iter().filter(|(t, _)| !t.starts_with("tok-auto-")).count();
    }
    eprintln!(
        "chaos: {} runs, {KILLS} kills, {executed_total} tool executions, {interrupted_total} calls interrupted",
        runs.len()
    );
    assert!(executed_total >= runs.len() - interrupted_total, "every call not interrupted ran");
}
