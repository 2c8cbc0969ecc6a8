//! `events`: guest-defined events under the `custom.` prefix, and the few types the
//! harness owns (`todo`).

use serde_json::Value;

use super::{bounded, for_guest};
use crate::RunState;
use crate::state::RunEnv;
use crate::wit::hermes::agent::events::Host;

/// Largest JSON payload of a guest event.
const MAX_DATA: usize = 64 << 10;

/// Types the harness emits itself (documented in the event catalog); any other a
/// guest emits carries the `custom.` prefix.
const HARNESS_TYPES: &[&str] = &["todo"];

fn check_type(t: &str) -> Result<(), String> {
    if HARNESS_TYPES.contains(&t) {
        return Ok(());
    }
    let Some(rest) = t.strip_prefix("custom.") else {
        return Err(format!("event type {t:?} is reserved for the host; guest events use the `custom.` prefix"));
    };
    if rest.is_empty()
        || t.len() > 64
        || !rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(format!("event type {t:?} must be `custom.` + 1–57 chars of [a-z0-9._-]"));
    }
    Ok(())
}

/// The boundary of `emit`: the type checked, the data bounded, scrubbed and parsed,
/// then handed to the port. A failure to persist is the host's (a trap).
pub(crate) async fn emit(env: &RunEnv, event_type: &str, data: &str) -> wasmtime::Result<Result<(), String>> {
    if let Err(e) = check_type(event_type).and_then(|_| bounded("event data", data, MAX_DATA)) {
        return Ok(Err(e));
    }
    let data = env.secrets.scrub(data);
    let payload = match serde_json::from_str::<Value>(&data) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Ok(Err("event data must be a JSON object".into())),
        Err(e) => return Ok(Err(format!("event data is not JSON: {e}"))),
    };
    for_guest(env.ports.events.emit(event_type, payload).await)
}

impl Host for RunState {
    async fn emit(&mut self, event_type: String, data: String) -> wasmtime::Result<Result<(), String>> {
        let env = self.env.clone();
        emit(&env, &event_type, &data).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imports::fake::{FakePorts, env_with};

    #[test]
    fn only_custom_types_are_allowed() {
        assert!(check_type("custom.progress").is_ok());
        assert!(check_type("run_status").is_err());
        assert!(check_type("todo").is_ok(), "the harness owns `todo`");
        assert!(check_type("custom.").is_err());
        assert!(check_type("custom.Bad Type").is_err());
    }

    #[tokio::test]
    async fn a_guest_event_reaches_the_port_scrubbed_and_bad_ones_never_do() {
        let fake = FakePorts::default();
        let env = env_with(&fake, &[("API_TOKEN", "tok-SEKRET-123456")]);

        let ok = emit(&env, "custom.progress", r#"{"step": 2, "note": "used tok-SEKRET-123456"}"#).await.unwrap();
        assert_eq!(ok, Ok(()));
        let refused = [
            emit(&env, "run_status", r#"{"status": "completed"}"#).await.unwrap(),
            emit(&env, "custom.x", "[1, 2]").await.unwrap(),
            emit(&env, "custom.x", "{not json").await.unwrap(),
            emit(&env, "custom.x", &format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_DATA))).await.unwrap(),
        ];
        assert!(refused.iter().all(Result::is_err), "{refused:?}");

        let emitted = fake.emitted();
        assert_eq!(emitted.len(), 1, "only the valid event crosses: {emitted:?}");
        let (kind, payload) = &emitted[0];
        assert_eq!(kind, "custom.progress");
        assert_eq!(payload["step"], 2);
        let note = payload["note"].as_str().unwrap_or_default();
        assert!(!note.contains("SEKRET") && note.starts_with("used "), "scrubbed before the port: {note}");
    }
}
