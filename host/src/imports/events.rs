//! `events`: guest-defined events under the `custom.` prefix.

use serde_json::Value;

use crate::runtime::RunState;
use crate::runtime::wit::hermes::agent::events::Host;
use hermes_events::NewEvent;

/// Largest JSON payload of a guest event.
const MAX_DATA: usize = 64 << 10;

fn check_type(t: &str) -> Result<(), String> {
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

impl Host for RunState {
    async fn emit(&mut self, event_type: String, data: String) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = check_type(&event_type).and_then(|_| super::bounded("event data", &data, MAX_DATA)) {
            return Ok(Err(e));
        }
        let data = self.env.secrets.scrub_owned(data);
        let payload = match serde_json::from_str::<Value>(&data) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return Ok(Err("event data must be a JSON object".into())),
            Err(e) => return Ok(Err(format!("event data is not JSON: {e}"))),
        };
        let env = &self.env;
        let event =
            NewEvent::new(&event_type, &env.deployment_id, payload).scoped(Some(&env.thread_id), Some(&env.run_id));
        // A failure to persist is the host's, not the guest's: trap the run.
        env.services.hub.append(event).await?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::check_type;

    #[test]
    fn only_custom_types_are_allowed() {
        assert!(check_type("custom.progress").is_ok());
        assert!(check_type("run_status").is_err());
        assert!(check_type("custom.").is_err());
        assert!(check_type("custom.Bad Type").is_err());
    }
}
