//! The spine through the library API: a message runs the real harness component in
//! wasmtime against local model servers, and the sandbox holds.

use std::collections::HashMap;
use std::time::Duration;

use hermes_host::Event;
use hermes_host::RunStatus;
use hermes_host::config::SandboxLimits;
use hermes_host::{DeploymentSpec, Host, HostConfig, ThreadTarget};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::json;

fn env_for(llm: &MockLlm) -> HashMap<String, String> {
    HashMap::from([
        ("OPENAI_API_KEY".into(), "sk-test".into()),
        ("OPENAI_BASE_URL".into(), llm.openai_base_url()),
        ("ANTHROPIC_API_KEY".into(), "sk-ant-test".into()),
        ("ANTHROPIC_BASE_URL".into(), llm.anthropic_base_url()),
    ])
}

fn spec(model: &str, prompt: &str) -> DeploymentSpec {
    serde_json::from_value(json!({
        "customer_id": "cus_test",
        "name": "test agent",
        "model": model,
        "system_prompt": prompt,
    }))
    .expect("valid spec")
}

async fn host_with(dir: &std::path::Path, llm: &MockLlm, config: HostConfig) -> Host {
    Host::builder(dir)
        .config(config)
        .env(env_for(llm))
        .harness("test-guest", std::fs::read(env!("HERMES_TEST_GUEST_WASM")).expect("test guest built"))
        .build()
        .await
        .expect("host starts")
}

/// Collects events of one run until its terminal `run_status`.
async fn events_of_run(sub: &mut hermes_host::Subscription, run_id: &str) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("events keep coming")
            .expect("stream open");
        if e.run_id.as_deref() != Some(run_id) {
            continue;
        }
        let done = e.kind == "run_status" && e.payload["status"] != "running";
        out.push(e);
        if done {
            return out;
        }
    }
}

async fn reply_streams_as_tokens_then_message(model: &str) {
    let llm = MockLlm::start().await;
    llm.push(Reply::text("Hello from the sandboxed agent, streamed word by word."));
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, HostConfig::default()).await;
    let dep = host.create_deployment(spec(model, "You are a test agent.")).await.unwrap();
    let mut sub = host.subscribe(&dep.deployment_id, 0).await.unwrap();
    let ticket = host.send_message(&dep.deployment_id, "Say hello", ThreadTarget::Default).await.unwrap();
    let events = events_of_run(&mut sub, &ticket.run_id).await;

    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let statuses: Vec<&str> =
        events.iter().filter(|e| e.kind == "run_status").filter_map(|e| e.payload["status"].as_str()).collect();
    assert_eq!(statuses, ["running", "completed"], "events: {kinds:?}");
    let first_token = kinds.iter().position(|k| *k == "token").expect("token events");
    let message =
        events.iter().position(|e| e.kind == "message" && e.payload["role"] == "agent").expect("agent message event");
    assert_eq!(events[0].kind, "message", "the user's message opens the run: {kinds:?}");
    assert!(first_token < message && message < kinds.len() - 1, "order: {kinds:?}");
    assert!(kinds.iter().filter(|k| **k == "token").count() > 3, "streamed in several deltas");
    let text: String =
        events.iter().filter(|e| e.kind == "token").filter_map(|e| e.payload["delta"].as_str()).collect();
    assert_eq!(text, "Hello from the sandboxed agent, streamed word by word.");
    let agent = events.iter().find(|e| e.kind == "message" && e.payload["role"] == "agent").expect("agent message");
    assert_eq!(agent.payload["content"], text);
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequences increase: {seqs:?}");

    let run = host.run(&ticket.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert!(run.output_tokens > 0, "usage recorded");
    // The model saw the system prompt and the user's message.
    let req = llm.requests().pop().expect("the model was called");
    assert!(req.to_string().contains("You are a test agent."));
    assert!(req.to_string().contains("Say hello"));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_reply_streams_as_tokens_then_message() {
    reply_streams_as_tokens_then_message("openai/gpt-test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_reply_streams_as_tokens_then_message() {
    reply_streams_as_tokens_then_message("anthropic/claude-test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_persists_across_restart_and_stays_private() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (dep_a, dep_b);
    {
        let host = host_with(dir.path(), &llm, HostConfig::default()).await;
        dep_a = host.create_deployment(spec("openai/gpt-test", "agent A")).await.unwrap().deployment_id;
        dep_b = host.create_deployment(spec("openai/gpt-test", "agent B")).await.unwrap().deployment_id;
        llm.push(Reply::tool("write_file", json!({"path": "notes/hello.txt", "content": "kept across restarts"})));
        llm.push(Reply::text("Saved."));
        let t = host.send_message(&dep_a, "save a note", ThreadTarget::Default).await.unwrap();
        let run = host.wait_for_run(&t.run_id).await.unwrap();
        assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
        host.shutdown().await;
    }
    let on_disk = dir.path().join("workspaces").join(&dep_a).join("notes/hello.txt");
    assert_eq!(std::fs::read_to_string(&on_disk).unwrap(), "kept across restarts");

    let host = host_with(dir.path(), &llm, HostConfig::default()).await;
    // After the restart, A still reads it through the sandbox …
    llm.push(Reply::tool("read_file", json!({"path": "notes/hello.txt"})));
    llm.push(Reply::text("ok"));
    let t = host.send_message(&dep_a, "read the note", ThreadTarget::Default).await.unwrap();
    assert_eq!(host.wait_for_run(&t.run_id).await.unwrap().status, RunStatus::Completed);
    let msgs = host.thread_messages(&t.thread_id, 50).await.unwrap();
    let result = msgs.iter().rev().find(|m| m.tool_call_id.is_some()).expect("tool result");
    assert!(!result.is_error && result.content.contains("kept across restarts"), "{result:?}");

    // … and B, a different deployment, cannot see it.
    llm.push(Reply::tool("read_file", json!({"path": "notes/hello.txt"})));
    llm.push(Reply::text("ok"));
    let t = host.send_message(&dep_b, "read the note", ThreadTarget::Default).await.unwrap();
    assert_eq!(host.wait_for_run(&t.run_id).await.unwrap().status, RunStatus::Completed);
    let msgs = host.thread_messages(&t.thread_id, 50).await.unwrap();
    let result = msgs.iter().rev().find(|m| m.tool_call_id.is_some()).expect("tool result");
    assert!(result.is_error, "B must not read A's file: {result:?}");
    assert!(!result.content.contains("kept across restarts"));
    host.shutdown().await;
}

fn sandbox_config() -> HostConfig {
    HostConfig {
        limits: SandboxLimits {
            max_memory_bytes: 64 << 20,
            run_deadline: Duration::from_secs(3),
            ..SandboxLimits::default()
        },
        ..HostConfig::default()
    }
}

/// Starts a bad guest and, while it misbehaves, proves a healthy deployment still works.
async fn bad_guest_fails_alone(behaviour: &str) -> hermes_host::Run {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("healthy"));
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, sandbox_config()).await;
    let mut bad = spec("openai/gpt-test", behaviour);
    bad.runtime = "test-guest".into();
    let bad = host.create_deployment(bad).await.unwrap();
    let good = host.create_deployment(spec("openai/gpt-test", "healthy agent")).await.unwrap();

    let bad_run = host.send_message(&bad.deployment_id, "go", ThreadTarget::Default).await.unwrap();
    let good_run = host.send_message(&good.deployment_id, "hi", ThreadTarget::Default).await.unwrap();
    let good_done = host.wait_for_run(&good_run.run_id).await.unwrap();
    assert_eq!(good_done.status, RunStatus::Completed, "healthy deployment unaffected: {:?}", good_done.error);
    let bad_done = host.wait_for_run(&bad_run.run_id).await.unwrap();

    // The host keeps working afterwards.
    let again = host.send_message(&good.deployment_id, "still there?", ThreadTarget::Default).await.unwrap();
    assert_eq!(host.wait_for_run(&again.run_id).await.unwrap().status, RunStatus::Completed);
    host.shutdown().await;
    bad_done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_stopped_at_its_deadline() {
    let run = bad_guest_fails_alone("loop").await;
    assert_eq!(run.status, RunStatus::Error);
    assert!(run.error.as_deref().unwrap_or_default().contains("deadline"), "{:?}", run.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_is_refused_at_the_memory_limit() {
    let run = bad_guest_fails_alone("alloc").await;
    assert_eq!(run.status, RunStatus::Error);
    assert!(run.error.as_deref().unwrap_or_default().contains("memory limit"), "{:?}", run.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_guest_fails_its_run_with_the_panic_message() {
    let run = bad_guest_fails_alone("panic").await;
    assert_eq!(run.status, RunStatus::Error);
    assert!(run.error.as_deref().unwrap_or_default().contains("panicked"), "{:?}", run.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_escapes_are_denied() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("outside.txt");
    std::fs::write(&secret, "HOST SECRET").unwrap();
    let host = host_with(dir.path(), &llm, sandbox_config()).await;
    let mut s = spec("openai/gpt-test", "escape");
    s.runtime = "test-guest".into();
    let dep = host.create_deployment(s).await.unwrap();
    // A symlink planted in the workspace, pointing outside it.
    std::os::unix::fs::symlink(&secret, host.workspace_dir(&dep.deployment_id).join("link")).unwrap();

    let t = host.send_message(&dep.deployment_id, "go", ThreadTarget::Default).await.unwrap();
    let run = host.wait_for_run(&t.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let report: serde_json::Value = serde_json::from_str(run.output.as_deref().unwrap()).unwrap();
    let attempts = report.as_object().expect("attempt map");
    assert!(attempts.len() >= 4, "{report}");
    for (attempt, outcome) in attempts {
        let outcome = outcome.as_str().unwrap_or_default();
        assert!(outcome.starts_with("denied"), "{attempt} was allowed: {outcome}");
    }
    assert!(!report.to_string().contains("HOST SECRET"));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_ends_the_run_with_a_clear_error() {
    let llm = MockLlm::start().await;
    llm.fail_next(503, 100);
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig {
        retry: hermes_providers::RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
        },
        ..HostConfig::default()
    };
    let host = host_with(dir.path(), &llm, config).await;
    let dep = host.create_deployment(spec("openai/gpt-test", "agent")).await.unwrap();
    let t = host.send_message(&dep.deployment_id, "hi", ThreadTarget::Default).await.unwrap();
    let run = host.wait_for_run(&t.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Error);
    let error = run.error.unwrap_or_default();
    assert!(error.contains("503"), "the reason reaches the client: {error}");
    assert_eq!(llm.requests().len(), 2, "retried once, then gave up");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_provider_is_a_clear_run_error() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, HostConfig::default()).await;
    let dep = host.create_deployment(spec("nosuch/model", "agent")).await.unwrap();
    let t = host.send_message(&dep.deployment_id, "hi", ThreadTarget::Default).await.unwrap();
    let run = host.wait_for_run(&t.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert!(run.error.unwrap_or_default().contains("nosuch"));
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_answer_is_bounded_by_the_host() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, sandbox_config()).await;
    let mut s = spec("openai/gpt-test", "huge");
    s.runtime = "test-guest".into();
    let dep = host.create_deployment(s).await.unwrap();
    let t = host.send_message(&dep.deployment_id, "go", ThreadTarget::Default).await.unwrap();
    let run = host.wait_for_run(&t.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    let output = run.output.unwrap();
    assert!(output.len() < (1 << 20) + 64, "kept {} bytes", output.len());
    assert!(output.ends_with("more bytes]"), "the cut is marked");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_flooding_its_transcript_is_refused_at_the_per_run_budget() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, HostConfig::default()).await;
    let mut s = spec("openai/gpt-test", "flood");
    s.runtime = "test-guest".into();
    let dep = host.create_deployment(s).await.unwrap();
    let t = host.send_message(&dep.deployment_id, "go", ThreadTarget::Default).await.unwrap();
    let run = host.wait_for_run(&t.run_id).await.unwrap();
    let output = run.output.unwrap_or_default();
    assert!(output.starts_with("refused after 6"), "{output}");
    assert!(output.contains("limit"), "{output}");
    host.shutdown().await;
}

/// Dropping the last `Host` handle stops the host (its background tasks watch this
/// token); a clone keeps it alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_host_handle_stops_the_host() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, HostConfig::default()).await;
    let stopping = host.stopping();
    let clone = host.clone();
    drop(host);
    assert!(!stopping.is_cancelled(), "a clone still holds the host");
    drop(clone);
    assert!(stopping.is_cancelled(), "the last handle gone, the host stops");
}

/// Issue 14, point 9: a guest blocked in a WASI sleep never reaches an epoch tick;
/// cancelling its run (or shutting the host down) must not wait for it to wake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_asleep_in_wasi_is_stopped_by_cancel_and_by_shutdown() {
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), &llm, HostConfig::default()).await;
    let mut sleeper = spec("openai/gpt-test", "sleep");
    sleeper.runtime = "test-guest".into();
    let dep = host.create_deployment(sleeper).await.unwrap();
    let t = host.send_message(&dep.deployment_id, "sleep", ThreadTarget::Default).await.unwrap();
    for _ in 0..400 {
        if host.run(&t.run_id).await.unwrap().status == RunStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    host.cancel_run(&t.run_id).await.unwrap();
    // The guest sleeps for ten minutes; a minute's patience proves it was not awaited.
    let run = tokio::time::timeout(Duration::from_secs(60), host.wait_for_run(&t.run_id))
        .await
        .expect("cancelling must not wait for the guest to wake")
        .unwrap();
    assert_eq!(run.status, RunStatus::Cancelled, "{:?}", run.error);

    let t = host.send_message(&dep.deployment_id, "sleep again", ThreadTarget::Default).await.unwrap();
    for _ in 0..400 {
        if host.run(&t.run_id).await.unwrap().status == RunStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), host.shutdown())
        .await
        .expect("shutting down must not wait for the guest to wake");
}
