//! `list_files`: a folder's entries, optionally recursive.

use std::path::Path;

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::Imports;

/// Entries listed at most.
const MAX_ENTRIES: usize = 500;
/// Folder depth a recursive listing descends at most.
const MAX_DEPTH: usize = 12;

pub(super) const TOOL: Builtin = Builtin {
    name: "list_files",
    description: "List a folder (default: workspace root). Folders end with /.",
    parameters: r#"{"type":"object","properties":{"path":{"type":"string"},"recursive":{"type":"boolean"}}}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    #[serde(default)]
    path: String,
    #[serde(default)]
    recursive: bool,
}

fn run(_host: &mut dyn Imports, ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    let dir = ws.resolve(&args.path)?;
    let mut out = Vec::new();
    let mut truncated = false;
    walk(ws, &dir, args.recursive, 0, &mut out, &mut truncated)
        .map_err(|e| format!("cannot list `{}`: {e}", display(&args.path)))?;
    if out.is_empty() {
        return Ok(format!("{} is empty", display(&args.path)));
    }
    let mut text = out.join("\n");
    if truncated {
        text.push_str(&format!("\n[stopped at {MAX_ENTRIES} entries]"));
    }
    Ok(text)
}

fn display(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

/// Appends `dir`'s entries (sorted, folders suffixed with `/`), descending when
/// `recursive`. Symlinks are listed, never followed.
fn walk(
    ws: &Workspace,
    dir: &Path,
    recursive: bool,
    depth: usize,
    out: &mut Vec<String>,
    truncated: &mut bool,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if out.len() >= MAX_ENTRIES {
            *truncated = true;
            return Ok(());
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let shown = ws.display(&path);
        if is_dir {
            out.push(format!("{shown}/"));
            if recursive && depth < MAX_DEPTH {
                // An unreadable subfolder is listed but not descended into.
                let _ = walk(ws, &path, recursive, depth + 1, out, truncated);
            }
        } else {
            out.push(shown);
        }
    }
    Ok(())
}
