//! `automation_create`, `automation_list`, `automation_pause`, `automation_resume`,
//! `automation_delete`: the agent schedules its own runs (offered only with
//! `features.automations`). The host validates the schedule and refuses, with the
//! reason, anything it cannot read — and refuses these tools inside an automation's
//! own run unless the host allows it.

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::{Automation, Features, Imports};

fn with_automations(f: &Features) -> bool {
    f.automations
}

pub(super) const CREATE: Builtin = Builtin {
    name: "automation_create",
    description: "Schedule a recurring run of yourself. `schedule`: 5-field cron in UTC (`0 9 * * 1`), an interval (`every 30m`, `every 2h`, `every 1d`), or `every day|weekday|monday at 9am`. `instructions`: what to do on each run.",
    parameters: r#"{"type":"object","properties":{"name":{"type":"string"},"schedule":{"type":"string"},"instructions":{"type":"string"}},"required":["name","schedule","instructions"]}"#,
    run: create,
    offered: with_automations,
};

pub(super) const LIST: Builtin = Builtin {
    name: "automation_list",
    description: "List this deployment's automations: `id | name | schedule | enabled | next run`.",
    parameters: r#"{"type":"object","properties":{}}"#,
    run: list,
    offered: with_automations,
};

pub(super) const PAUSE: Builtin = Builtin {
    name: "automation_pause",
    description: "Pause an automation by id (from automation_list).",
    parameters: r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}"#,
    run: pause,
    offered: with_automations,
};

pub(super) const RESUME: Builtin = Builtin {
    name: "automation_resume",
    description: "Resume a paused automation by id; it next runs at its first slot from now.",
    parameters: r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}"#,
    run: resume,
    offered: with_automations,
};

pub(super) const DELETE: Builtin = Builtin {
    name: "automation_delete",
    description: "Delete an automation by id.",
    parameters: r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}"#,
    run: delete,
    offered: with_automations,
};

#[derive(Deserialize)]
struct CreateArgs {
    name: String,
    schedule: String,
    instructions: String,
}

#[derive(Deserialize)]
struct IdArgs {
    id: String,
}

/// One line per automation, what the model reads.
fn line(a: &Automation) -> String {
    let next = a.next_run_at.as_deref().unwrap_or("-");
    let state = if a.enabled { "enabled" } else { "paused" };
    format!("{} | {} | {} | {state} | next {next}", a.id, a.name.replace('\n', " "), a.schedule)
}

fn create(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: CreateArgs = hermes_guest::parse_args(arguments)?;
    let a = host.create_automation(&args.name, &args.schedule, &args.instructions)?;
    Ok(format!("Created: {}", line(&a)))
}

fn list(host: &mut dyn Imports, _ws: &Workspace, _arguments: &str) -> Result<String, String> {
    let all = host.list_automations()?;
    if all.is_empty() {
        return Ok("No automations.".into());
    }
    Ok(all.iter().map(line).collect::<Vec<_>>().join("\n"))
}

fn pause(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: IdArgs = hermes_guest::parse_args(arguments)?;
    Ok(format!("Paused: {}", line(&host.set_automation_enabled(&args.id, false)?)))
}

fn resume(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: IdArgs = hermes_guest::parse_args(arguments)?;
    Ok(format!("Resumed: {}", line(&host.set_automation_enabled(&args.id, true)?)))
}

fn delete(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: IdArgs = hermes_guest::parse_args(arguments)?;
    host.delete_automation(&args.id)?;
    Ok(format!("Deleted automation {}.", args.id))
}

#[cfg(test)]
mod tests {
    use hermes_guest::ToolCall;

    use super::super::{builtin_definitions, execute, tests::all_features};
    use super::*;

    #[test]
    fn offered_only_with_the_automations_feature() {
        let names = |f: &Features| builtin_definitions(f, &[]).into_iter().map(|d| d.name).collect::<Vec<_>>();
        let on = all_features();
        let off = Features { automations: false, ..all_features() };
        for tool in
            ["automation_create", "automation_list", "automation_pause", "automation_resume", "automation_delete"]
        {
            assert!(names(&on).iter().any(|n| n == tool), "{tool}");
            assert!(!names(&off).iter().any(|n| n == tool), "{tool}");
        }
        let mut host = crate::fake_host::FakeHost::new("run_1", "hi");
        let ws = Workspace::new(std::env::temp_dir());
        let call = ToolCall::new("c1", "automation_list", "{}");
        assert!(execute(&mut host, &ws, &off, &[], &call).is_error);
    }

    #[test]
    fn create_reports_the_automation_and_refusals_reach_the_model() {
        let mut host = crate::fake_host::FakeHost::new("run_1", "hi");
        let ws = Workspace::new(std::env::temp_dir());
        let args = r#"{"name":"digest","schedule":"every day at 9am","instructions":"Summarise"}"#;
        let out = execute(&mut host, &ws, &all_features(), &[], &ToolCall::new("c1", "automation_create", args));
        assert!(
            !out.is_error && out.content.starts_with("Created: auto_fake | digest | every day at 9am"),
            "{}",
            out.content
        );
        let out = execute(
            &mut host,
            &ws,
            &all_features(),
            &[],
            &ToolCall::new("c2", "automation_pause", r#"{"id":"auto_x"}"#),
        );
        assert!(out.is_error && out.content.contains("auto_x not found"), "{}", out.content);
        let out = execute(&mut host, &ws, &all_features(), &[], &ToolCall::new("c3", "automation_create", "{}"));
        assert!(out.is_error, "missing arguments are refused");
    }
}
