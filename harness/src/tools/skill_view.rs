//! `skill_view`: open a skill (progressive disclosure: the prompt lists names only).

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::Imports;

pub(super) const TOOL: Builtin = Builtin {
    name: "skill_view",
    description: "Read a skill's SKILL.md, or one of its files (path relative to the skill).",
    parameters: r#"{"type":"object","properties":{"name":{"type":"string"},"file":{"type":"string"}},"required":["name"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    name: String,
    file: Option<String>,
}

fn run(host: &mut dyn Imports, _ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    host.read_skill(&args.name, args.file.as_deref())
}
