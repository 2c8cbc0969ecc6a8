//! `edit_file`: replace one exact, unique occurrence of a string.

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::Imports;

pub(super) const TOOL: Builtin = Builtin {
    name: "edit_file",
    description: "Replace old_string, which must occur exactly once in the file, with new_string.",
    parameters: r#"{"type":"object","properties":{"path":{"type":"string"},"old_string":{"type":"string"},"new_string":{"type":"string"}},"required":["path","old_string","new_string"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    path: String,
    old_string: String,
    new_string: String,
}

fn run(_host: &mut dyn Imports, ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    let path = ws.resolve(&args.path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", args.path))?;
    let edited =
        replace_unique(&text, &args.old_string, &args.new_string).map_err(|e| format!("{e} in `{}`", args.path))?;
    std::fs::write(&path, edited).map_err(|e| format!("cannot write `{}`: {e}", args.path))?;
    Ok(format!("edited {}", args.path))
}

/// `text` with its only occurrence of `old` replaced by `new`.
fn replace_unique(text: &str, old: &str, new: &str) -> Result<String, String> {
    if old.is_empty() {
        return Err("old_string is empty".to_string());
    }
    match text.matches(old).count() {
        0 => Err("old_string not found".to_string()),
        1 => Ok(text.replacen(old, new, 1)),
        n => Err(format!("old_string occurs {n} times; include more context to make it unique")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_unique_match() {
        assert_eq!(replace_unique("a b c", "b", "B").unwrap(), "a B c");
    }

    #[test]
    fn refuses_missing_and_ambiguous_matches() {
        assert!(replace_unique("a b c", "x", "y").unwrap_err().contains("not found"));
        assert!(replace_unique("a a", "a", "b").unwrap_err().contains("2 times"));
        assert!(replace_unique("a", "", "b").is_err());
    }
}
