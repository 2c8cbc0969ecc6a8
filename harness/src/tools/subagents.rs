//! `subagents`: the agent hands a self-contained task to a child run on a new thread
//! of the same deployment. The child works alone; its final answer is this call's
//! result. While it works the run waits holding nothing (like `ask_human`), so a
//! turn that delegates several tasks runs them side by side.

use hermes_guest::{ToolCall, ToolOutput};
use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::{Child, Delegation, Imports};

/// The tool's name (the hosted product's).
pub const NAME: &str = "subagents";
/// Longest task handed to a child, in bytes.
const MAX_TASK: usize = 32 * 1024;
/// Tools one allowlist names at most.
const MAX_TOOLS: usize = 64;

pub(super) const TOOL: Builtin = Builtin {
    name: NAME,
    description: "Delegate a self-contained task to a subagent that works alone on a fresh thread and returns its final answer. Several calls in one turn run in parallel.",
    parameters: r#"{"type":"object","properties":{"task":{"type":"string","description":"Everything the subagent needs: it sees nothing else"},"tools":{"type":"array","items":{"type":"string"},"description":"Only these tools (default: all yours)"},"max_turns":{"type":"integer","minimum":1}},"required":["task"]}"#,
    run,
    offered: super::always,
};

/// The agent loop answers `subagents` itself (see [`delegate`]): only it can make the
/// run wait. Reaching this means a caller bypassed the loop; say so.
fn run(_host: &mut dyn Imports, _ws: &Workspace, _arguments: &str) -> Result<String, String> {
    Err("subagents can only be answered by the agent loop".into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    task: String,
    #[serde(default)]
    tools: Option<Vec<String>>,
    #[serde(default)]
    max_turns: Option<u32>,
}

/// Where delegating left the call.
pub enum Delegated {
    /// The child ended (or the delegation was refused): the tool's result.
    Answered(ToolOutput),
    /// The child is still working: the run waits on this child run id.
    Waiting(String),
}

/// Starts (or, in a resumed run, looks up) the child of `call`.
pub fn delegate(host: &mut dyn Imports, call: &ToolCall) -> Delegated {
    let args: Args = match hermes_guest::parse_args(&call.arguments) {
        Ok(a) => a,
        Err(e) => return Delegated::Answered(ToolOutput::err(e)),
    };
    let task = args.task.trim();
    if task.is_empty() {
        return Delegated::Answered(ToolOutput::err("`task` must not be empty"));
    }
    if task.len() > MAX_TASK {
        return Delegated::Answered(ToolOutput::err(format!(
            "`task` is {} bytes; at most {MAX_TASK} (put long material in a workspace file and name it)",
            task.len()
        )));
    }
    if args.tools.as_ref().is_some_and(|t| t.len() > MAX_TOOLS) {
        return Delegated::Answered(ToolOutput::err(format!("`tools` names at most {MAX_TOOLS} tools")));
    }
    if args.max_turns == Some(0) {
        return Delegated::Answered(ToolOutput::err("`max_turns` must be at least 1"));
    }
    let delegation =
        Delegation { call_id: call.id.clone(), task: task.to_string(), tools: args.tools, max_turns: args.max_turns };
    match host.delegate(&delegation) {
        Ok(Child::Running(run_id)) => Delegated::Waiting(run_id),
        Ok(Child::Completed(answer)) => Delegated::Answered(ToolOutput::ok(answer)),
        Ok(Child::Failed(why)) => Delegated::Answered(ToolOutput::err(format!("the subagent did not finish: {why}"))),
        Err(e) => Delegated::Answered(ToolOutput::err(format!("no subagent could be started: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_host::FakeHost;

    fn call(args: &str) -> ToolCall {
        ToolCall::new("c1", NAME, args)
    }

    #[test]
    fn a_delegation_waits_then_carries_the_child_answer() {
        let mut host = FakeHost::new("run_1", "hi");
        let args = r#"{"task":"  Count the files. ","tools":["list_files"],"max_turns":3}"#;
        assert!(matches!(delegate(&mut host, &call(args)), Delegated::Waiting(id) if id == "run_child_c1"));
        let d = &host.delegations[0];
        assert_eq!(
            (d.task.as_str(), d.tools.as_deref(), d.max_turns),
            ("Count the files.", Some(&["list_files".to_string()][..]), Some(3))
        );

        host.children.insert("c1".into(), Child::Completed("12 files".into()));
        let Delegated::Answered(out) = delegate(&mut host, &call(args)) else { panic!("waiting") };
        assert!(!out.is_error && out.content == "12 files");

        host.children.insert("c1".into(), Child::Failed("cancelled".into()));
        let Delegated::Answered(out) = delegate(&mut host, &call(args)) else { panic!("waiting") };
        assert!(out.is_error && out.content.contains("cancelled"));
    }

    #[test]
    fn bad_arguments_are_tool_errors_and_start_nothing() {
        let mut host = FakeHost::new("run_1", "hi");
        for args in [r#"{"task":"  "}"#, "{}", r#"{"task":"x","max_turns":0}"#, r#"{"task":"x","extra":1}"#] {
            let Delegated::Answered(out) = delegate(&mut host, &call(args)) else { panic!("waiting on {args}") };
            assert!(out.is_error, "{args}");
        }
        assert!(host.delegations.is_empty());
    }
}
