//! `search_files`: find lines by literal text or regular expression, or find files by
//! glob, under a folder of the workspace.

use std::path::Path;

use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde::Deserialize;

use super::{Builtin, Workspace};
use crate::imports::Imports;

/// Matching lines (or files) reported at most.
const MAX_MATCHES: usize = 100;
/// Files opened (or paths compared) at most.
const MAX_FILES: usize = 5_000;
/// Files larger than this are skipped.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Characters of a matching line shown at most.
const MAX_LINE_CHARS: usize = 200;
/// Folder depth searched at most.
const MAX_DEPTH: usize = 16;
/// Longest pattern accepted; a regex is also bounded in its compiled size.
const MAX_PATTERN: usize = 1000;

pub(super) const TOOL: Builtin = Builtin {
    name: "search_files",
    description: "Find lines matching query under path (mode literal|regex), or files whose path matches a glob \
                  (mode glob, e.g. **/*.csv). include: glob filter on file paths.",
    parameters: r#"{"type":"object","properties":{"query":{"type":"string"},"path":{"type":"string"},"mode":{"enum":["literal","regex","glob"]},"include":{"type":"string"}},"required":["query"]}"#,
    run,
    offered: super::always,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    query: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    include: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Literal,
    Regex,
    Glob,
}

/// What a line (or, in glob mode, a path) must match.
enum Matcher {
    Literal(String),
    Regex(Regex),
    Glob(GlobMatcher),
}

fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    Glob::new(pattern).map(|g| g.compile_matcher()).map_err(|e| format!("invalid glob {pattern:?}: {e}"))
}

struct Search<'a> {
    ws: &'a Workspace,
    matcher: Matcher,
    include: Option<GlobMatcher>,
    files: usize,
    matches: Vec<String>,
}

fn run(_host: &mut dyn Imports, ws: &Workspace, arguments: &str) -> Result<String, String> {
    let args: Args = hermes_guest::parse_args(arguments)?;
    if args.query.is_empty() {
        return Err("query is empty".to_string());
    }
    if args.query.len() > MAX_PATTERN {
        return Err(format!("query is longer than {MAX_PATTERN} bytes"));
    }
    let matcher = match args.mode {
        Mode::Literal => Matcher::Literal(args.query.clone()),
        Mode::Regex => Matcher::Regex(
            regex::RegexBuilder::new(&args.query)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("invalid regular expression: {e}"))?,
        ),
        Mode::Glob => Matcher::Glob(glob(&args.query)?),
    };
    let include = args.include.as_deref().map(glob).transpose()?;
    let start = ws.resolve(&args.path)?;
    let mut search = Search { ws, matcher, include, files: 0, matches: Vec::new() };
    search.visit(&start, 0);
    if search.matches.is_empty() {
        let what = if args.mode == Mode::Glob { "no files match" } else { "no matches for" };
        return Ok(format!("{what} `{}`", args.query));
    }
    let mut text = search.matches.join("\n");
    if search.full() {
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
                if self.full() || depth >= MAX_DEPTH {
                    return;
                }
                self.visit(&entry, depth + 1);
            }
            return;
        }
        if !meta.is_file() {
            return;
        }
        let shown = self.ws.display(path);
        if self.include.as_ref().is_some_and(|g| !g.is_match(&shown)) {
            return;
        }
        self.files += 1;
        match &self.matcher {
            Matcher::Glob(g) if g.is_match(&shown) => self.matches.push(format!("{shown} ({} bytes)", meta.len())),
            Matcher::Glob(_) => {}
            _ if meta.len() <= MAX_FILE_BYTES => self.scan(path, &shown),
            _ => {}
        }
    }

    fn scan(&mut self, path: &Path, shown: &str) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        for (i, line) in text.lines().enumerate() {
            if self.matches.len() >= MAX_MATCHES {
                return;
            }
            let hit = match &self.matcher {
                Matcher::Literal(q) => line.contains(q.as_str()),
                Matcher::Regex(r) => r.is_match(line),
                Matcher::Glob(_) => false,
            };
            if hit {
                let line: String = line.trim().chars().take(MAX_LINE_CHARS).collect();
                self.matches.push(format!("{shown}:{}: {line}", i + 1));
            }
        }
    }
}
