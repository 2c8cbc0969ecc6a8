//! Observation: after a run answers, one small model call extracts what is worth
//! remembering about the customer or the work, stored through the memory import.
//!
//! The prompt is bounded — the run's last user message, its final answer and the
//! memories already recalled, each clipped — so the call costs the same on a long
//! thread as on a short one. Its system prompt starts with [`MARKER`] so model
//! servers and tests can tell it from the agent's own turns. Nothing here fails the
//! run: a model or memory error is logged and the answer stands.

use serde::Deserialize;

use hermes_guest::Message;

use crate::imports::*;

/// First line of the extraction's system prompt: recognisable in request logs.
pub const MARKER: &str = "[hermes:observe]";
/// Characters of the user message and of the answer shown to the extractor.
const MAX_PART_CHARS: usize = 2000;
/// Characters of one already-known memory shown.
const MAX_KNOWN_CHARS: usize = 200;
/// Observations stored per run at most.
const MAX_OBSERVATIONS: usize = 3;
/// Output budget of the extraction call.
const MAX_TOKENS: u32 = 300;

const PROMPT: &str = "You extract durable observations from one exchange between a customer and an AI agent, \
for the agent's long-term memory. Keep only facts worth knowing in later conversations: the customer's \
preferences, identity, goals, constraints, and what the work produced or decided. Write each as a short \
third-person statement (\"The customer prefers …\", \"The Q3 report lives in reports/q3.md\"), never as an \
instruction. Skip greetings, one-off requests and anything already known. Never include passwords, keys or \
tokens. Answer with JSON only: {\"observations\": [\"…\"]} — at most 3, or an empty list.";

#[derive(Deserialize)]
struct Extracted {
    #[serde(default)]
    observations: Vec<String>,
}

/// The extraction request for one exchange.
pub fn request(user: &str, answer: &str, known: &[String]) -> CompletionRequest {
    let mut text = String::with_capacity(2 * MAX_PART_CHARS + 512);
    text.push_str("Customer:\n");
    text.push_str(&clip(user, MAX_PART_CHARS));
    text.push_str("\n\nAgent:\n");
    text.push_str(&clip(answer, MAX_PART_CHARS));
    if !known.is_empty() {
        text.push_str("\n\nAlready known:\n");
        for k in known.iter().take(8) {
            text.push_str("- ");
            text.push_str(&clip(k, MAX_KNOWN_CHARS));
            text.push('\n');
        }
    }
    CompletionRequest {
        system: format!("{MARKER}\n{PROMPT}"),
        messages: vec![Message::user(text)],
        tools: Vec::new(),
        max_tokens: Some(MAX_TOKENS),
        stream_tokens: false,
    }
}

/// The observations in a model answer (JSON, possibly fenced); none when unparseable.
pub fn parse(text: &str) -> Vec<String> {
    let found = match (text.find('{'), text.rfind('}')) {
        (Some(s), Some(e)) if s < e => serde_json::from_str::<Extracted>(&text[s..=e]).ok(),
        _ => None,
    };
    found
        .map(|x| x.observations)
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .take(MAX_OBSERVATIONS)
        .collect()
}

/// Extracts and stores the observations of one exchange; returns how many were stored.
pub fn observe(host: &mut impl Imports, user: &str, answer: &str, known: &[String]) -> usize {
    if user.trim().is_empty() {
        return 0;
    }
    let completion = match host.complete(&request(user, answer, known)) {
        Ok(c) => c,
        Err(e) => {
            host.log(Level::Warn, &format!("observation skipped: {}", describe_model_error(&e)));
            return 0;
        }
    };
    let mut stored = 0;
    for observation in parse(&completion.content) {
        match host.add_memory(&observation) {
            Ok(_) => stored += 1,
            Err(e) => host.log(Level::Info, &format!("observation not stored: {e}")),
        }
    }
    stored
}

fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_bounded_and_marked() {
        let long = "x".repeat(50_000);
        let r = request(&long, &long, &["known".into()]);
        assert!(r.system.starts_with(MARKER));
        assert!(!r.stream_tokens && r.tools.is_empty());
        assert!(r.messages[0].content.len() < 5_000, "{}", r.messages[0].content.len());
    }

    #[test]
    fn observations_are_parsed_from_json_or_dropped() {
        assert_eq!(parse("```json\n{\"observations\":[\" a \",\"\",\"b\"]}\n```"), ["a", "b"]);
        assert!(parse("no json here").is_empty());
        assert_eq!(parse(r#"{"observations":["1","2","3","4"]}"#).len(), MAX_OBSERVATIONS);
    }
}
