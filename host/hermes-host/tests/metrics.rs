//! `/metrics` as Prometheus reads it: parsed by a Prometheus text-format parser
//! (`prometheus-parse`), with the counters and histograms moving after a run with a
//! model call and a tool call, and the event-stream gauge following open streams.

mod common;

use std::time::Duration;

use hermes_tests::mock_llm::{MockLlm, Reply};
use prometheus_parse::{Scrape, Value};
use serde_json::json;

async fn scrape(server: &common::Server) -> Scrape {
    let text = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"))
}

/// The value of `name` with every label of `labels` (summed over the other labels).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_histograms_move_after_a_run_and_labels_stay_bounded() {
    let llm = MockLlm::start().await;
    let server = common::start(&llm);
    let before = scrape(&server).await;
    let dep = common::create(
        &server,
        json!({"customer_id": "c", "name": "n", "model": "openai/gpt-test", "system_prompt": "p"}),
    )
    .await;
    let mut stream = common::sse::SseReader::open(&server.base, &server.key, &dep, "", None).await;
    llm.push(Reply::tool("read_file", json!({"path": "missing.txt"})));
    llm.push(Reply::text("It is not there."));
    let (_, run) = common::send(&server, &dep, "read missing.txt").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert!(stream.next(Duration::from_secs(5)).await.is_some());
    let after = scrape(&server).await;

    let moved = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert!(moved("hermes_run_status_changes_total", &[("status", "completed")]) >= 1.0);
    assert!(moved("hermes_run_status_changes_total", &[("status", "running")]) >= 1.0);
    let model = [("provider", "openai"), ("model", "openai/gpt-test")];
    // The run's two turns, and the memory extraction after it.
    assert!(moved("hermes_model_call_duration_seconds_count", &model) >= 2.0, "the model calls are timed");
    assert!(moved("hermes_model_tokens_total", &[("provider", "openai"), ("kind", "input")]) > 0.0);
    assert!(moved("hermes_model_tokens_total", &[("kind", "output")]) > 0.0);
    assert_eq!(
        moved("hermes_tool_calls_total", &[("origin", "builtin"), ("outcome", "error")]),
        1.0,
        "the failed read"
    );
    assert!(moved("hermes_instantiate_duration_seconds_count", &[]) >= 1.0);
    assert!(moved("hermes_run_duration_seconds_count", &[]) >= 1.0);
    assert!(moved("hermes_store_commit_duration_seconds_count", &[]) > 0.0);
    assert_eq!(value(&after, "hermes_sse_subscribers", &[]), 1.0, "one stream open");
    assert!(value(&after, "hermes_runs", &[("status", "completed")]) >= 1.0, "the store's gauges are still there");
    // No label names a deployment or an account.
    for s in &after.samples {
        assert!(!s.labels.values().any(|v| v.contains(&dep)), "{} carries the deployment id", s.metric);
    }
    drop(stream);
    for _ in 0..50 {
        if value(&scrape(&server).await, "hermes_sse_subscribers", &[]) == 0.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the closed stream is still counted");
}
