//! `memory_add`, `memory_search`, `memory_forget`: the agent's own handle on the
//! deployment's observational memory (offered only with `features.memory`). The host
//! refuses entries that read as instructions or hold secret values, with the reason.

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::{Features, Imports};

/// Entries one search returns at most.
const SEARCH_LIMIT: u32 = 10;

fn with_memory(f: &Features) -> bool {
    f.memory
}

pub(super) const ADD: Builtin = Builtin {
    name: "memory_add",
    description: "Remember a durable fact about the customer or the work for later conversations, phrased as an observation (\"The customer prefers …\").",
    parameters: r#"{"type":"object","properties":{"content":{"type":"string"}},"required":["content"]}"#,
    run: add,
    offered: with_memory,
};

pub(super) const SEARCH: Builtin = Builtin {
    name: "memory_search",
    description: "Search remembered facts (full text); returns `id: content` lines.",
    parameters: r#"{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}"#,
    run: search,
    offered: with_memory,
};

pub(super) const FORGET: Builtin = Builtin {
    name: "memory_forget",
    description: "Forget a remembered fact by its id (from memory_search), e.g. when it is wrong or the customer asks.",
    parameters: r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}"#,
    run: forget,
    offered: with_memory,
};

#[derive(Deserialize)]
struct AddArgs {
    content: String,
}

#[derive(Deserialize)]
struct SearchArgs {
    query: String,
}

#[derive(Deserialize)]
struct ForgetArgs {
    id: String,
}

fn add(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: AddArgs = hermes_guest::parse_args(arguments)?;
    let entry = host.add_memory(&args.content)?;
    Ok(format!("remembered as {}", entry.id))
}

fn search(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: SearchArgs = hermes_guest::parse_args(arguments)?;
    let found = host.recall(&args.query, SEARCH_LIMIT)?;
    if found.is_empty() {
        return Ok("no matching memories".to_string());
    }
    Ok(found.iter().map(|m| format!("{}: {}", m.id, m.content.replace('\n', " "))).collect::<Vec<_>>().join("\n"))
}

fn forget(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: ForgetArgs = hermes_guest::parse_args(arguments)?;
    host.forget_memory(&args.id)?;
    Ok(format!("forgot {}", args.id))
}

#[cfg(test)]
mod tests {
    use crate::fake_host::FakeHost;
    use crate::tools::{Workspace, builtin_definitions, execute, tests::all_features};
    use hermes_guest::ToolCall;

    #[test]
    fn memory_tools_come_with_the_memory_feature_only() {
        let mut features = all_features();
        assert!(builtin_definitions(&features, &[]).iter().any(|d| d.name == "memory_add"));
        features.memory = false;
        assert!(builtin_definitions(&features, &[]).iter().all(|d| !d.name.starts_with("memory_")));
        let mut host = FakeHost::new("run_1", "hi");
        let call = ToolCall::new("c", "memory_add", r#"{"content":"x"}"#);
        let out = execute(&mut host, &Workspace::new(std::env::temp_dir()), &features, &[], &call);
        assert!(out.is_error && out.content.contains("not enabled"), "{}", out.content);
    }

    #[test]
    fn memory_add_stores_through_the_host() {
        let mut host = FakeHost::new("run_1", "hi");
        let call = ToolCall::new("c", "memory_add", r#"{"content":"The customer prefers tea."}"#);
        let out = execute(&mut host, &Workspace::new(std::env::temp_dir()), &all_features(), &[], &call);
        assert!(!out.is_error, "{}", out.content);
        assert_eq!(host.added, ["The customer prefers tea."]);
    }
}
