//! `write_file`: create or overwrite a file (parent folders included).

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::Imports;

pub(super) const TOOL: Builtin = Builtin {
    name: "write_file",
    description: "Create or overwrite a file (parent folders are created).",
    parameters: r#"{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    path: String,
    content: String,
}

fn run(_host: &mut dyn Imports, ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    let path = ws.resolve(&args.path)?;
    if path == ws.root() {
        return Err("a file path is required".to_string());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create the folders of `{}`: {e}", args.path))?;
    }
    std::fs::write(&path, args.content.as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", args.path))?;
    Ok(format!("wrote {} bytes to {}", args.content.len(), args.path))
}
