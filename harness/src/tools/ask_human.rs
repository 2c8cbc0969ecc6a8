//! `ask_human`: the agent asks a person before a consequential step. The question
//! becomes a `steering_request`; the run waits (holding nothing) until the human
//! approves, rejects, or answers with a message, and the reply is the tool's result.
//! Offered only with `features.steering`.

use hermes_guest::{ToolCall, ToolOutput};
use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::{ApprovalRequest, Decision, Features, Imports};

/// The tool's name.
pub const NAME: &str = "ask_human";
/// Longest question sent to the human.
const MAX_QUESTION: usize = 500;

pub(super) const TOOL: Builtin = Builtin {
    name: NAME,
    description: "Ask a human to confirm or decide before a consequential or irreversible action. The run pauses until they answer.",
    parameters: r#"{"type":"object","properties":{"question":{"type":"string","description":"One line the human can approve or reject"}},"required":["question"]}"#,
    run,
    offered: steering,
};

fn steering(features: &Features) -> bool {
    features.steering
}

/// The agent loop answers `ask_human` itself (see [`ask`]): only it can make the run
/// wait. Reaching this means a caller bypassed the loop; say so instead of guessing.
fn run(_host: &mut dyn Imports, _ws: &Workspace, _arguments: &str) -> Result<String, String> {
    Err("ask_human can only be answered by the agent loop".into())
}

#[derive(Deserialize)]
struct Args {
    question: String,
}

/// Where asking left the call.
pub enum Asked {
    /// The human has answered (or the question was invalid): the tool's result.
    Answered(ToolOutput),
    /// Nobody answered yet: the run waits on this approval id.
    Waiting(String),
}

/// Asks (or, in a resumed run, looks up) the human's answer to `call`.
pub fn ask(host: &mut dyn Imports, call: &ToolCall) -> Asked {
    let args: Args = match hermes_guest::parse_args(&call.arguments) {
        Ok(a) => a,
        Err(e) => return Asked::Answered(ToolOutput::err(e)),
    };
    let question = args.question.split_whitespace().collect::<Vec<_>>().join(" ");
    if question.is_empty() {
        return Asked::Answered(ToolOutput::err("`question` must not be empty"));
    }
    let summary: String = question.chars().take(MAX_QUESTION).collect();
    let request =
        ApprovalRequest { call_id: call.id.clone(), tool: NAME.into(), arguments: call.arguments.clone(), summary };
    match host.request_approval(&request) {
        Ok(Decision::Pending(id)) => Asked::Waiting(id),
        Ok(Decision::Approved(comment)) => Asked::Answered(ToolOutput::ok(reply("The human approved.", comment))),
        Ok(Decision::Rejected(comment)) => {
            Asked::Answered(ToolOutput::ok(reply("The human did not approve; do not go ahead.", comment)))
        }
        Err(e) => Asked::Answered(ToolOutput::err(format!("no human could be asked: {e}"))),
    }
}

fn reply(verdict: &str, comment: Option<String>) -> String {
    match comment {
        Some(c) if !c.trim().is_empty() => format!("{verdict} Their comment: {c}"),
        _ => verdict.to_string(),
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
    fn a_question_waits_then_carries_the_human_reply() {
        let mut host = FakeHost::new("run_1", "hi");
        host.approvals.insert(NAME.into(), Decision::Pending("apr_1".into()));
        assert!(matches!(ask(&mut host, &call(r#"{"question":"Delete all?"}"#)), Asked::Waiting(id) if id == "apr_1"));

        host.approvals.insert(NAME.into(), Decision::Approved(Some("yes, go".into())));
        let Asked::Answered(out) = ask(&mut host, &call(r#"{"question":"Delete all?"}"#)) else { panic!("waiting") };
        assert!(!out.is_error && out.content.contains("approved") && out.content.contains("yes, go"));

        host.approvals.insert(NAME.into(), Decision::Rejected(None));
        let Asked::Answered(out) = ask(&mut host, &call(r#"{"question":"Delete all?"}"#)) else { panic!("waiting") };
        assert!(out.content.contains("did not approve"));
    }

    #[test]
    fn an_empty_question_is_a_tool_error() {
        let mut host = FakeHost::new("run_1", "hi");
        let Asked::Answered(out) = ask(&mut host, &call(r#"{"question":"  "}"#)) else { panic!("waiting") };
        assert!(out.is_error);
        let Asked::Answered(out) = ask(&mut host, &call("{}")) else { panic!("waiting") };
        assert!(out.is_error);
    }
}
