//! Context compaction through the public API: a 600-message thread on a model with a
//! small configured window. Every request stays under the window, the summary is
//! persisted (and announced as a `compaction` event), and a fact from the very first
//! message is still answerable at the end — the fake model answers only from what
//! its request carries.

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
        format!("starting_credits = 1000000000000\n[context.models]\n\"openai/gpt-test\" = {WINDOW}\n"),
    )
    .unwrap();
    let server = start_with(&llm, &[("HERMES_CONFIG", config.to_str().unwrap())]);
    let dep = create(
        &server,
        json!({"customer_id": "cus_long", "name": "Long", "model": "openai/gpt-test", "system_prompt": "Be brief.",
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
    let largest = requests.iter().map(|r| r.to_string().len()).max().unwrap();
    assert!(largest / 3 <= WINDOW, "every request fits the {WINDOW}-token window: the largest is {largest} bytes");
    let summaries = requests.iter().filter(|r| is_summariser(r)).count();
    assert!(summaries >= 2, "the thread was compacted as it grew: {summaries}");
    let last = turns.last().unwrap();
    assert!(text_of(last).contains(FACT), "the last request carries the first message's fact");
    assert!(text_of(last).contains("## Earlier in this conversation"), "as the summary");
    // The summary is persisted with the thread and announced.
    let answered = format!("\"content\":\"It is {FACT}.\"");
    let events = common::stream_text(&server, &dep, 20, |t| t.contains(&answered)).await;
    assert!(events.contains("\"type\":\"compaction\"") && events.contains("\"folded\""), "a compaction event");
    assert!(events.contains(&answered), "the agent answered from the summary");
    let thread_id = run["thread_id"].as_str().expect("the run names its thread").to_string();
    let db = hermes_store::Db::open(&server.dir.path().join("hermes.db")).unwrap();
    let stored = db.read(move |tx| hermes_store::threads::compaction(tx, &thread_id)).await.unwrap();
    let (summary, _through) = stored.expect("a stored compaction");
    assert!(summary.contains(FACT), "{summary}");
}
