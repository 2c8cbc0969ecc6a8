//! The approval policy: which tool names wait for a human.

use crate::HostError;
use hermes_types::spec::{DeploymentSpec, Steering};

/// Most entries in `steering.require_approval`.
pub const MAX_PATTERNS: usize = 100;
/// Longest pattern.
const MAX_PATTERN_LEN: usize = 128;
/// Longest approval timeout: 30 days (a waiting run holds nothing, but a decision
/// that late is almost certainly forgotten).
const MAX_TIMEOUT_SECS: u64 = 30 * 24 * 3600;

/// Whether `tool` must be approved by a human before it runs under `spec`. With
/// `features.steering` off the policy is ignored: nothing waits.
/// A pattern starting with `!` exempts the tools it matches from the others
/// (`["crm__*", "!crm__search"]`: every `crm` tool but `search` waits).
pub fn requires(spec: &DeploymentSpec, tool: &str) -> bool {
    let patterns = &spec.steering.require_approval;
    spec.features.steering
        && patterns.iter().any(|p| !p.starts_with('!') && matches(p, tool))
        && !patterns.iter().filter_map(|p| p.strip_prefix('!')).any(|p| matches(p, tool))
}

/// Glob match where `*` stands for any run of characters (possibly empty) and every
/// other character is literal: `prism-media__generate_*` matches
/// `prism-media__generate_video`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Checks a policy: bounded, well-formed patterns and a sane timeout.
pub fn validate(steering: &Steering) -> Result<(), HostError> {
    if steering.require_approval.len() > MAX_PATTERNS {
        return Err(HostError::invalid(
            "steering.require_approval",
            format!("{} patterns; at most {MAX_PATTERNS}", steering.require_approval.len()),
        ));
    }
    for (i, p) in steering.require_approval.iter().enumerate() {
        let body = p.strip_prefix('!').unwrap_or(p);
        let ok = !body.is_empty()
            && p.len() <= MAX_PATTERN_LEN
            && body.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '.'));
        if !ok {
            return Err(HostError::invalid(
                &format!("steering.require_approval[{i}]"),
                format!(
                    "{p:?} must be a tool name or pattern of 1–{MAX_PATTERN_LEN} characters from A-Z a-z 0-9 _ - . and `*` (`!` first exempts)"
                ),
            ));
        }
    }
    if let Some(t) = steering.approval_timeout_seconds
        && !(1..=MAX_TIMEOUT_SECS).contains(&t)
    {
        return Err(HostError::invalid(
            "steering.approval_timeout_seconds",
            format!("must be between 1 and {MAX_TIMEOUT_SECS} seconds (omit it to wait without a limit)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bang_pattern_exempts_what_the_others_match() {
        let mut spec: DeploymentSpec =
            serde_json::from_value(serde_json::json!({"customer_id": "c", "name": "n", "system_prompt": "p"})).unwrap();
        spec.features.steering = true;
        spec.steering.require_approval = vec!["crm__*".into(), "!crm__search".into()];
        assert!(requires(&spec, "crm__delete"));
        assert!(!requires(&spec, "crm__search"));
        assert!(!requires(&spec, "read_file"));
        spec.steering.require_approval = vec!["!crm__search".into()];
        assert!(!requires(&spec, "crm__delete"), "an exemption alone requires nothing");
        assert!(validate(&spec.steering).is_ok());
        spec.steering.require_approval = vec!["!".into()];
        assert!(validate(&spec.steering).is_err());
    }

    #[test]
    fn exact_names_and_globs_match() {
        assert!(matches("write_file", "write_file"));
        assert!(!matches("write_file", "write_files"));
        assert!(!matches("write_file", "xwrite_file"));
        assert!(matches("prism-media__generate_*", "prism-media__generate_video"));
        assert!(matches("prism-media__generate_*", "prism-media__generate_"));
        assert!(!matches("prism-media__generate_*", "prism-media__list"));
        assert!(matches("*__delete*", "crm__delete_contact"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(!matches("ab*ba", "aba"));
    }

    #[test]
    fn policies_are_validated() {
        let ok =
            Steering { require_approval: vec!["write_file".into(), "x__*".into()], approval_timeout_seconds: Some(60) };
        assert!(validate(&ok).is_ok());
        let bad = Steering { require_approval: vec!["".into()], approval_timeout_seconds: None };
        assert!(validate(&bad).is_err());
        let bad = Steering { require_approval: vec!["rm -rf".into()], approval_timeout_seconds: None };
        assert!(validate(&bad).is_err());
        let bad = Steering { require_approval: vec![], approval_timeout_seconds: Some(0) };
        assert!(validate(&bad).is_err());
    }
}
