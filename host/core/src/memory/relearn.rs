//! "A deleted memory is not re-learned unless the customer repeats it."
//!
//! Forgetting leaves a tombstone with the entry's text. When the agent later tries to
//! store an observation whose key words mostly match a tombstone's, the add is refused
//! unless a user message of the current run, sent after the deletion, itself mentions
//! most of those key words (the customer said it again).

use hermes_store::Tx;

use hermes_store::StoreError;
use hermes_store::memories as store;

/// Share of a tombstone's key words an observation must contain to count as the same.
const SAME_OBSERVATION: f64 = 0.6;
/// Share of a tombstone's key words a user message must contain to count as repeating it.
const REPEATED: f64 = 0.5;

/// Words that say who or how, not what: ignored when comparing observations.
const GENERIC: &[&str] = &[
    "customer",
    "user",
    "client",
    "they",
    "prefer",
    "like",
    "want",
    "need",
    "said",
    "say",
    "mentioned",
    "asked",
    "remember",
    "always",
    "usually",
    "also",
    "would",
    "should",
    "about",
];

/// A lower-cased, punctuation-free form: two entries equal under it are duplicates.
pub(super) fn normalized(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Key words of `text`: query terms, crudely stemmed (`-s`, `-es`, `-ed`, `-ing`), minus generic ones.
fn keys(text: &str) -> Vec<String> {
    let mut out: Vec<String> = store::query_terms(text).into_iter().map(|w| stem(&w)).collect();
    out.retain(|w| !GENERIC.contains(&w.as_str()));
    out.dedup();
    out
}

fn stem(w: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return base.to_string();
        }
    }
    w.to_string()
}

/// Share of `of`'s words present in `within`.
fn coverage(of: &[String], within: &[String]) -> f64 {
    if of.is_empty() {
        return 0.0;
    }
    of.iter().filter(|w| within.contains(w)).count() as f64 / of.len() as f64
}

/// When `content` matches a forgotten entry the customer has not repeated in run
/// `run_id` since, the time it was forgotten.
pub(super) fn forgotten_and_not_repeated(
    conn: &Tx<'_>,
    deployment_id: &str,
    content: &str,
    run_id: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let new_keys = keys(content);
    for (text, deleted_at) in store::tombstones_like(conn, deployment_id, content, 20)? {
        let dead = keys(&text);
        if coverage(&dead, &new_keys) < SAME_OBSERVATION {
            continue;
        }
        let repeated = match run_id {
            Some(run) => store::user_messages_of_run(conn, run, &deleted_at)?
                .iter()
                .any(|m| coverage(&dead, &keys(m)) >= REPEATED),
            None => false,
        };
        if !repeated {
            return Ok(Some(deleted_at));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_observation_matches_and_a_repeat_is_recognised() {
        let dead = keys("The customer prefers dark mode.");
        assert_eq!(dead, ["dark", "mode"]);
        assert!(coverage(&dead, &keys("Customer likes dark mode")) >= SAME_OBSERVATION);
        assert!(coverage(&dead, &keys("Customer uses light themes")) < SAME_OBSERVATION);
        assert!(coverage(&dead, &keys("Remember: I prefer dark mode!")) >= REPEATED);
        assert!(coverage(&dead, &keys("What's the weather today?")) < REPEATED);
    }

    #[test]
    fn normalisation_ignores_case_and_punctuation() {
        assert_eq!(normalized("Customer prefers  dark-mode."), normalized("customer prefers dark mode"));
    }
}
