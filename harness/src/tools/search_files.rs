//! `search_files`: literal text search across the workspace's files.

use std::path::Path;

use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::Imports;

/// Matching lines reported at most.
const MAX_MATCHES: usize = 100;
/// Files opened at most.
const MAX_FILES: usize = 5_000;
/// Files larger than this are skipped.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Characters of a matching line shown at most.
const MAX_LINE_CHARS: usize = 200;

pub(super) const TOOL: Builtin = Builtin {
    name: "search_files",
    description: "Find lines containing query (literal, case-sensitive) in files under path.",
    parameters: r#"{"type":"object","properties":{"query":{"type":"string"},"path":{"type":"string"}},"required":["query"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
struct Args {
    query: String,
    #[serde(default)]
    path: String,
}

struct Search<'a> {
    ws: &'a Workspace,
    query: &'a str,
    files: usize,
    matches: Vec<String>,
}

fn run(_host: &mut dyn Imports, ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    if args.query.is_empty() {
        return Err("query is empty".to_string());
    }
    let start = ws.resolve(&args.path)?;
    let mut search = Search { ws, query: &args.query, files: 0, matches: Vec::new() };
    search.visit(&start, 0);
    if search.matches.is_empty() {
        return Ok(format!("no matches for `{}`", args.query));
    }
    let mut text = search.matches.join("\n");
    if search.matches.len() >= MAX_MATCHES || search.files >= MAX_FILES {
        text.push_str("\n[more matches may exist; narrow path or query]");
    }
    Ok(text)
}

impl Search<'_> {
    fn full(&self) -> bool {
        self.matches.len() >= MAX_MATCHES || self.files >= MAX_FILES
    }

    fn visit(&mut self, path: &Path, depth: usize) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(path) else {
                return;
            };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            entries.sort();
            for entry in entries {
                if self.full() || depth >= 16 {
                    return;
                }
                self.visit(&entry, depth + 1);
            }
        } else if meta.is_file() && meta.len() <= MAX_FILE_BYTES {
            self.files += 1;
            self.scan(path);
        }
    }

    fn scan(&mut self, path: &Path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let shown = self.ws.display(path);
        for (i, line) in text.lines().enumerate() {
            if self.matches.len() >= MAX_MATCHES {
                return;
            }
            if line.contains(self.query) {
                let line: String = line.trim().chars().take(MAX_LINE_CHARS).collect();
                self.matches.push(format!("{shown}:{}: {line}", i + 1));
            }
        }
    }
}
