//! The loop against a scripted host: fresh runs, resumption, approvals, failures.

use hermes_guest::{Message, Role, ToolCall};

use crate::agent_loop::{INTERRUPTED, run};
use crate::fake_host::FakeHost;
use crate::imports::*;
use crate::tools::Workspace;

fn temp_workspace(name: &str) -> Workspace {
    let dir = std::env::temp_dir().join(format!("hermes-harness-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Workspace::new(dir)
}

fn write_call(id: &str, path: &str) -> ToolCall {
    ToolCall::new(id, "write_file", format!(r#"{{"path":"{path}","content":"hi"}}"#))
}

#[test]
fn a_fresh_run_calls_tools_then_answers() {
    let ws = temp_workspace("fresh");
    let mut host = FakeHost::new("run_1", "write hello");
    host.reply("", vec![write_call("c1", "notes/hello.txt")]).reply("Done.", vec![]);

    let outcome = run(&mut host, &ws, &FakeHost::context(false)).unwrap();

    assert_eq!(outcome, RunOutcome::Completed("Done.".into()));
    assert_eq!(std::fs::read_to_string(ws.root().join("notes/hello.txt")).unwrap(), "hi");
    let roles: Vec<Role> = host.messages().iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Assistant]);
    assert_eq!(host.started, ["c1"]);
    let first = &host.requests[0];
    assert!(first.stream_tokens);
    assert!(first.system.contains("release-notes: Write release notes."));
    assert!(first.system.contains("CRM_TOKEN"));
    assert_eq!(host.requests[1].messages.len(), 3, "the tool result is sent back");
}

#[test]
fn tool_failures_go_back_to_the_model() {
    let ws = temp_workspace("failures");
    let mut host = FakeHost::new("run_1", "break things");
    let calls = vec![
        ToolCall::new("c1", "read_file", r#"{"path":"/etc/passwd"}"#),
        ToolCall::new("c2", "read_file", "{not json"),
        ToolCall::new("c3", "nope", "{}"),
    ];
    host.reply("", calls).reply("I could not.", vec![]);

    let outcome = run(&mut host, &ws, &FakeHost::context(false)).unwrap();

    assert_eq!(outcome, RunOutcome::Completed("I could not.".into()));
    let results: Vec<&Message> = host.messages().into_iter().filter(|m| m.role == Role::Tool).collect();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|m| m.is_error));
    assert!(results[0].content.contains("absolute"));
}

#[test]
fn a_resumed_run_skips_interrupted_calls_and_runs_the_rest() {
    let ws = temp_workspace("resume");
    let mut host = FakeHost::new("run_1", "write two files");
    let calls = vec![write_call("c1", "a.txt"), write_call("c2", "b.txt")];
    host.push(Some("run_1"), Message::assistant_with_calls("", calls));
    host.interrupted = vec!["c1".into()];
    host.reply("Wrote b.", vec![]);

    let outcome = run(&mut host, &ws, &FakeHost::context(true)).unwrap();

    assert_eq!(outcome, RunOutcome::Completed("Wrote b.".into()));
    assert!(!ws.root().join("a.txt").exists(), "an interrupted call is never re-run");
    assert!(ws.root().join("b.txt").exists());
    let c1 = host.messages().into_iter().find(|m| m.tool_call_id.as_deref() == Some("c1")).unwrap();
    assert!(c1.is_error);
    assert_eq!(c1.content, INTERRUPTED);
    assert_eq!(host.started, ["c2"]);
}

#[test]
fn a_run_that_already_answered_is_not_repeated() {
    let ws = temp_workspace("answered");
    let mut host = FakeHost::new("run_1", "hi");
    host.push(Some("run_1"), Message::assistant("Hello!"));
    let outcome = run(&mut host, &ws, &FakeHost::context(true)).unwrap();
    assert_eq!(outcome, RunOutcome::Completed("Hello!".into()));
    assert!(host.requests.is_empty());
}

#[test]
fn a_pending_approval_stops_the_run_and_a_rejection_is_a_tool_error() {
    let ws = temp_workspace("approval");
    let mut host = FakeHost::new("run_1", "write it");
    host.approvals.insert("write_file".into(), Decision::Pending("apr_1".into()));
    host.reply("", vec![write_call("c1", "x.txt")]);

    let outcome = run(&mut host, &ws, &FakeHost::context(false)).unwrap();
    assert_eq!(outcome, RunOutcome::Waiting("apr_1".into()));
    assert!(host.started.is_empty());

    // The human rejects; the next instance resumes from the thread.
    host.approvals.insert("write_file".into(), Decision::Rejected(Some("not now".into())));
    host.reply("OK, I won't.", vec![]);
    let outcome = run(&mut host, &ws, &FakeHost::context(true)).unwrap();
    assert_eq!(outcome, RunOutcome::Completed("OK, I won't.".into()));
    let result = host.messages().into_iter().find(|m| m.role == Role::Tool).unwrap();
    assert!(result.is_error && result.content.contains("not now"));
    assert!(!ws.root().join("x.txt").exists());
}

#[test]
fn model_errors_end_the_run_with_the_reason() {
    let ws = temp_workspace("model-error");
    let mut host = FakeHost::new("run_1", "hi");
    host.replies.push_back(Err(ModelError::InsufficientCredits("balance 0".into())));
    let err = run(&mut host, &ws, &FakeHost::context(false)).unwrap_err();
    assert!(err.contains("insufficient credits") && err.contains("balance 0"), "{err}");
}

#[test]
fn the_iteration_limit_ends_the_run_with_a_note() {
    let ws = temp_workspace("limit");
    let mut host = FakeHost::new("run_1", "loop");
    let mut ctx = FakeHost::context(false);
    ctx.max_iterations = 2;
    for i in 0..2 {
        host.reply("", vec![ToolCall::new(format!("c{i}"), "list_files", "{}")]);
    }
    match run(&mut host, &ws, &ctx).unwrap() {
        RunOutcome::Completed(note) => assert!(note.contains("2 model turns"), "{note}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(host.requests.len(), 2);
}

#[test]
fn memory_recall_failures_are_skipped() {
    let ws = temp_workspace("memory");
    let mut host = FakeHost::new("run_1", "what do you know?");
    host.reply("Nothing yet.", vec![]);
    assert!(run(&mut host, &ws, &FakeHost::context(false)).is_ok());

    let mut host = FakeHost::new("run_1", "what do you know?");
    host.memories = Ok(vec![MemoryEntry {
        id: "mem_1".into(),
        content: "The user prefers metric units.".into(),
        source: "agent".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
    }]);
    host.reply("Metric.", vec![]);
    run(&mut host, &ws, &FakeHost::context(false)).unwrap();
    assert!(host.requests[0].system.contains("prefers metric units"));
}

#[test]
fn delegations_of_one_turn_all_start_before_the_run_waits_then_resume_with_the_answers() {
    let ws = temp_workspace("delegate");
    let mut host = FakeHost::new("run_1", "research two things");
    let calls = vec![
        ToolCall::new("d1", "subagents", r#"{"task":"Find A."}"#),
        write_call("w1", "plan.txt"),
        ToolCall::new("d2", "subagents", r#"{"task":"Find B.","max_turns":2}"#),
    ];
    host.reply("", calls);
    let outcome = run(&mut host, &ws, &FakeHost::context(false)).unwrap();
    assert_eq!(outcome, RunOutcome::Waiting("run_child_d1".into()), "waits on the first child");
    let tasks: Vec<&str> = host.delegations.iter().map(|d| d.task.as_str()).collect();
    assert_eq!(tasks, ["Find A.", "Find B."], "both children started in the same instance");
    assert_eq!(host.started, ["w1"], "a delegation is not a started (interruptible) call");

    // Both children answered: a fresh instance hands the answers to the model.
    host.children.insert("d1".into(), Child::Completed("A is 1.".into()));
    host.children.insert("d2".into(), Child::Failed("cancelled".into()));
    host.reply("A is 1; B is unknown.", vec![]);
    let outcome = run(&mut host, &ws, &FakeHost::context(true)).unwrap();
    assert_eq!(outcome, RunOutcome::Completed("A is 1; B is unknown.".into()));
    let results: Vec<(&str, bool)> = host
        .messages()
        .into_iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| (m.content.as_str(), m.is_error))
        .collect();
    assert_eq!(results[1], ("A is 1.", false));
    assert!(results[2].1 && results[2].0.contains("cancelled"));
    assert_eq!(host.delegations.len(), 4, "the resumed instance looked both children up again");
}
