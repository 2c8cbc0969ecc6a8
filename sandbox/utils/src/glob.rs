//! `__glob PATTERN...`: the shell's pathname expansion, done inside the sandbox.
//! Prints a JSON array with, per pattern, its sorted matches (the pattern itself
//! when nothing matches, as POSIX `sh` does).

use crate::fnmatch;

/// Most paths one pattern may expand to.
const MAX_MATCHES: usize = 10_000;

pub fn main(patterns: &[String]) -> i32 {
    let expanded: Vec<Vec<String>> = patterns
        .iter()
        .map(|p| {
            let mut found = expand(p);
            if found.is_empty() {
                found.push(p.clone());
            }
            found
        })
        .collect();
    println!("{}", serde_json::Value::from(expanded));
    0
}

fn expand(pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    let mut paths = vec![if absolute { "/".to_string() } else { String::new() }];
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for base in &paths {
            if !fnmatch::has_wildcards(part) {
                let candidate = join(base, part);
                if std::fs::symlink_metadata(dir_of(&candidate)).is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir_of(base)) else { continue };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter(|e| last || e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                .filter(|n| fnmatch::matches(part, n, false))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(base, n)));
            if next.len() > MAX_MATCHES {
                next.truncate(MAX_MATCHES);
                break;
            }
        }
        paths = next;
    }
    if pattern.ends_with('/') {
        for p in &mut paths {
            p.push('/');
        }
    }
    if parts.is_empty() { Vec::new() } else { paths }
}

fn join(base: &str, name: &str) -> String {
    match base {
        "" => name.to_string(),
        b if b.ends_with('/') => format!("{b}{name}"),
        b => format!("{b}/{name}"),
    }
}

fn dir_of(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}
