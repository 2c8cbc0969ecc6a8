//! `todo`: the run's plan, kept by the model. Each call replaces the whole list; the
//! host streams it as a `todo` event, and the call stays in the transcript, so a
//! resumed run (and the next turn) sees the plan as last written.

use serde::{Deserialize, Serialize};

use super::{Builtin, Workspace};
use crate::imports::Imports;

/// Items in one plan at most.
const MAX_ITEMS: usize = 50;
/// Characters of one item at most.
const MAX_ITEM_CHARS: usize = 300;

pub(super) const TOOL: Builtin = Builtin {
    name: "todo",
    description: "Write your plan for this task (replaces the previous one); keep statuses current.",
    parameters: r#"{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"content":{"type":"string"},"status":{"enum":["pending","in_progress","done"]}},"required":["content","status"]}}},"required":["items"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    items: Vec<Item>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Item {
    content: String,
    status: Status,
}

#[derive(Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Status {
    Pending,
    InProgress,
    Done,
}

fn run(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    if args.items.len() > MAX_ITEMS {
        return Err(format!("a plan has at most {MAX_ITEMS} items"));
    }
    if let Some(long) = args.items.iter().find(|i| i.content.chars().count() > MAX_ITEM_CHARS) {
        let start: String = long.content.chars().take(40).collect();
        return Err(format!("item \"{start}…\" is longer than {MAX_ITEM_CHARS} characters"));
    }
    if args.items.iter().any(|i| i.content.trim().is_empty()) {
        return Err("an item is empty".into());
    }
    let data = serde_json::json!({ "items": args.items }).to_string();
    // The plan is the model's: an event that cannot be sent must not fail the call.
    if let Err(e) = host.emit("todo", &data) {
        host.log(crate::imports::Level::Warn, &format!("todo event not sent: {e}"));
    }
    let done = args.items.iter().filter(|i| i.status == Status::Done).count();
    let mut out = format!("Plan saved ({done}/{} done):", args.items.len());
    for item in &args.items {
        let mark = match item.status {
            Status::Pending => "[ ]",
            Status::InProgress => "[~]",
            Status::Done => "[x]",
        };
        out.push_str(&format!("\n{mark} {}", item.content.trim()));
    }
    Ok(out)
}
