//! Context compaction and prompt caching through the public API.
//!
//! Compaction: a 600-message thread on a model with a small configured window. Every
//! request stays under the window, the summary is persisted (and announced as a
//! `compaction` event), and a fact from the very first message is still answerable
//! at the end — the fake model answers only from what its request carries.
//!
//! Caching: Anthropic requests mark the stable prefix, and the usage of a request
//! that read it from the (fake) provider's cache records and prices cached tokens.

mod common;

use common::{create, send, start_with};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

const WINDOW: usize = 16_000;
const FACT: &str = "PAPAYA-17";

/// The request's whole text (system prompt and messages).
fn text_of(req: &Value) -> String {
    req["messages"].as_array().map(|m| m.iter().map(|m| m["content"].to_string()).collect()).unwrap_or_default()
}

fn is_summariser(req: &Value) -> bool {
    req["messages"][0]["content"].as_str().is_some_and(|s| s.starts_with("You compact conversations."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_600_message_thread_stays_under_the_window_and_remembers_its_first_message() {
    let llm = MockLlm::start().await;
    llm.set_responder(|req| {
        let text = text_of(req);
        if is_summariser(req) {
            // A faithful summariser: it keeps the fact when its input has it.
            let kept = if text.contains(FACT) { format!("The code word is {FACT}. ") } else { String::new() };
            return Some(Reply::text(format!("{kept}The user sent many routine updates.")));
        }
        let last = req["messages"].as_array()?.last()?["content"].as_str()?.to_string();
        if last.contains("What is the code word?") {
            let answer = if text.contains(FACT) { format!("It is {FACT}.") } else { "I do not know.".into() };
            return Some(Reply::text(answer));
        }
        Some(Reply::text(format!("Noted. {}", "Routine acknowledgement of the update. ".repeat(3))))
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hermes.toml");
    std::fs::write(
        &config,
        format!("starting_credits = 1000000000000\n[context.models]\n\"openai/gpt-4o-test\" = {WINDOW}\n"),
    )
    .unwrap();
    let server = start_with(&llm, &[("HERMES_CONFIG", config.to_str().unwrap())]);
    let dep = create(
        &server,
        json!({"customer_id": "cus_long", "name": "Long", "model": "openai/gpt-4o-test", "system_prompt": "Be brief.",
               "features": {"memory": false}}),
    )
    .await;
    let (_, run) = send(&server, &dep, &format!("Remember this: the code word is {FACT}.")).await;
    assert_eq!(run["status"], "completed", "{run}");
    for i in 1..300 {
        let (_, run) =
            send(&server, &dep, &format!("Update {i}: {}", "all systems nominal, nothing to report. ".repeat(3))).await;
        assert_eq!(run["status"], "completed", "{run}");
    }
    let (_, run) = send(&server, &dep, "What is the code word?").await;
    assert_eq!(run["status"], "completed", "{run}");

    let requests = llm.requests();
    let turns: Vec<&Value> = requests.iter().filter(|r| !is_summariser(r)).collect();
    assert_eq!(turns.len(), 301, "one model turn per message");
    // Counted as the provider counts (a GPT-4o model: o200k), over the whole JSON body.
    let bodies: Vec<String> = requests.iter().map(Value::to_string).collect();
    let largest = hermes_providers::tokens::Tokenizer::O200k.count(&bodies).into_iter().max().unwrap() as usize;
    assert!(largest <= WINDOW, "every request fits the {WINDOW}-token window: the largest is {largest} tokens");
    // The harness counted with the real tokenizer, so it used the window better than
    // the 3-bytes-a-token estimate would have let it.
    let widest = bodies.iter().map(String::len).max().unwrap();
    assert!(widest / 3 > WINDOW * 3 / 4 - 4096, "{widest} bytes at most: the estimate would have stopped earlier");
    let summaries = requests.iter().filter(|r| is_summariser(r)).count();
    assert!(summaries >= 2, "the thread was compacted as it grew: {summaries}");
    let last = turns.last().unwrap();
    assert!(text_of(last).contains(FACT), "the last request carries the first message's fact");
    assert!(text_of(last).contains("## Earlier in this conversation"), "as the summary");
    // The summary is persisted with the thread and announced.
    assert_eq!(run["output"], format!("It is {FACT}."), "the agent answered from the summary");
    // Read only as far as the first compaction: the whole log of 300 streamed turns is
    // long for a loaded machine.
    let events = common::stream_text(&server, &dep, 60, |t| t.contains("\"folded\"") && t.ends_with("\n\n")).await;
    assert!(events.contains("\"type\":\"compaction\"") && events.contains("\"folded\""), "a compaction event");
    let thread_id = run["thread_id"].as_str().expect("the run names its thread").to_string();
    let db = hermes_store::Db::open(&server.dir.path().join("hermes.db")).unwrap();
    let stored = db.read(move |tx| hermes_store::threads::compaction(tx, &thread_id)).await.unwrap();
    let (summary, _through) = stored.expect("a stored compaction");
    assert!(summary.contains(FACT), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_requests_mark_the_stable_prefix_and_usage_records_cached_tokens() {
    let llm = MockLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hermes.toml");
    // Cached input at 0 credits, fresh input at 1 per token: the charge shows the split.
    std::fs::write(
        &config,
        "[pricing]\ninput_per_million = 1000000\noutput_per_million = 0\ncached_input_per_million = 0\n",
    )
    .unwrap();
    let server = start_with(&llm, &[("HERMES_CONFIG", config.to_str().unwrap())]);
    let dep = create(
        &server,
        json!({"customer_id": "cus_cache", "name": "Cache", "model": "anthropic/claude-test",
               "system_prompt": "You are the finance assistant of Acme.", "features": {"memory": false}}),
    )
    .await;
    for text in ["first question", "second question"] {
        let (_, run) = send(&server, &dep, text).await;
        assert_eq!(run["status"], "completed", "{run}");
    }
    let requests = llm.requests();
    let req = requests.last().unwrap();
    assert_eq!(req["system"][0]["cache_control"], json!({"type": "ephemeral"}), "the system prompt ends a prefix");
    let tools = req["tools"].as_array().unwrap();
    assert_eq!(tools.last().unwrap()["cache_control"], json!({"type": "ephemeral"}), "so does the last tool");
    assert!(tools[..tools.len() - 1].iter().all(|t| t.get("cache_control").is_none()));
    let events = common::stream_text(&server, &dep, 10, |t| t.matches("\"type\":\"usage\"").count() >= 2).await;
    let usage: Vec<Value> = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["type"] == "usage")
        .collect();
    assert_eq!(usage.len(), 2, "{events}");
    assert_eq!(usage[0]["cached_input_tokens"], 0, "the first request fills the cache");
    let cached = usage[1]["cached_input_tokens"].as_u64().unwrap();
    let input = usage[1]["input_tokens"].as_u64().unwrap();
    assert!(cached > 0 && cached < input, "the second reads the prefix from it: {}", usage[1]);
    assert_eq!(usage[1]["credits"].as_u64().unwrap(), input - cached, "cached tokens priced from config");
}
