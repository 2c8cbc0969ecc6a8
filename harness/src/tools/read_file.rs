//! `read_file`: a text file, or a window of its lines.

use serde::Deserialize;

use super::{Builtin, MAX_OUTPUT_BYTES, Workspace};
use crate::imports::Imports;

/// Files larger than this are refused (read a window with offset/limit instead).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Lines shown when no `limit` is given.
const DEFAULT_LIMIT: usize = 500;

pub(super) const TOOL: Builtin = Builtin {
    name: "read_file",
    description: "Read a text file. offset = first line (1-based), limit = line count.",
    parameters: r#"{"type":"object","properties":{"path":{"type":"string"},"offset":{"type":"integer"},"limit":{"type":"integer"}},"required":["path"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    path: String,
    offset: Option<usize>,
    limit: Option<usize>,
}

fn run(_host: &mut dyn Imports, ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    let path = ws.resolve(&args.path)?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read `{}`: {e}", args.path))?;
    if meta.is_dir() {
        return Err(format!("`{}` is a directory; use list_files", args.path));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("`{}` is {} bytes, over the {MAX_FILE_BYTES}-byte limit", args.path, meta.len()));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", args.path))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("`{}` is not UTF-8 text", args.path))?;
    if text.is_empty() {
        return Ok(format!("`{}` is empty", args.path));
    }
    Ok(window(&text, args.offset, args.limit))
}

/// Lines `offset..offset+limit` (1-based) of `text`, with a note when partial.
fn window(text: &str, offset: Option<usize>, limit: Option<usize>) -> String {
    let total = text.lines().count();
    let first = offset.unwrap_or(1).max(1);
    if first > total.max(1) {
        return format!("[offset {first} is past the end: the file has {total} lines]");
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT).max(1);
    let mut out = String::new();
    let mut last = first.saturating_sub(1);
    for (i, line) in text.lines().enumerate().skip(first - 1).take(limit) {
        if out.len() + line.len() + 1 > MAX_OUTPUT_BYTES - 200 {
            break;
        }
        out.push_str(line);
        out.push('\n');
        last = i + 1;
    }
    if first > 1 || last < total {
        out.push_str(&format!("[lines {first}-{last} of {total}; use offset/limit for more]"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_small_file_has_no_note() {
        assert_eq!(window("a\nb\n", None, None), "a\nb\n");
    }

    #[test]
    fn a_window_says_where_it_is() {
        let text = "1\n2\n3\n4\n";
        assert!(window(text, Some(9), None).contains("past the end"));
        assert_eq!(window(text, Some(2), Some(2)), "2\n3\n[lines 2-3 of 4; use offset/limit for more]");
    }
}
