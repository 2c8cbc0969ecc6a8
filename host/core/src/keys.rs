//! API keys: shown once, stored as SHA-256 hashes, scoped.

use sha2::{Digest, Sha256};

use crate::HostError;

/// Every scope a key can hold.
pub const SCOPES: &[&str] = &[
    "deployments:read",
    "deployments:write",
    "messages:write",
    "events:read",
    "secrets:write",
    "webhooks:write",
    "plugins:write",
    "*",
];

/// A fresh secret key: `hk_` + 40 random base-62 characters (~238 bits).
pub fn generate() -> String {
    let id = hermes_types::ids::new_id("x");
    let more = hermes_types::ids::new_id("x");
    format!("hk_{}{}", &id[2..], &more[2..])
}

/// The stored form of a key.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks and normalises a scope list.
pub fn parse_scopes(list: &[String]) -> Result<Vec<String>, HostError> {
    if list.is_empty() {
        return Err(HostError::invalid(
            "scopes",
            format!("at least one scope is required; choose from {}", SCOPES.join(", ")),
        ));
    }
    let mut out = Vec::new();
    for s in list {
        let s = s.trim();
        if !SCOPES.contains(&s) {
            return Err(HostError::invalid(
                "scopes",
                format!("unknown scope {s:?}; choose from {}", SCOPES.join(", ")),
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Scopes a broader one includes, as the hosted API defines its two scopes:
/// `deployments:write` also sends messages, `deployments:read` also streams events.
const IMPLIED: &[(&str, &str)] = &[("deployments:write", "messages:write"), ("deployments:read", "events:read")];

/// Whether `granted` covers `needed`.
pub fn allows(granted: &[String], needed: &str) -> bool {
    granted.iter().any(|g| g == "*" || g == needed || IMPLIED.contains(&(g.as_str(), needed)))
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn the_hosted_scopes_include_sending_and_streaming() {
        let write = vec!["deployments:write".to_string()];
        let read = vec!["deployments:read".to_string()];
        assert!(allows(&write, "messages:write") && allows(&read, "events:read"));
        assert!(!allows(&read, "messages:write"), "reading never implies writing");
        assert!(!allows(&write, "events:read") && !allows(&write, "secrets:write"));
        assert!(!allows(&["messages:write".to_string()], "deployments:write"), "a finer scope stays narrow");
    }
}
