//! `find [PATH...] [TEST...]`: the tests agents use (`-name -iname -path -ipath
//! -type f|d|l -maxdepth -mindepth -empty -newer`-free), all of them ANDed, each
//! negatable with `!` or `-not`; prints matching paths, entries sorted by name,
//! symbolic links never followed.

use crate::{complain, fnmatch};

const NAME: &str = "find";

enum Test {
    Name(String, bool),
    Path(String, bool),
    Type(char),
    Empty,
    Not(Box<Test>),
}

struct Opts {
    tests: Vec<Test>,
    min_depth: usize,
    max_depth: usize,
}

pub fn main(args: &[String]) -> i32 {
    let split = args.iter().position(|a| a.starts_with('-') || a == "!" || a == "(").unwrap_or(args.len());
    let mut roots: Vec<String> = args[..split].to_vec();
    if roots.is_empty() {
        roots.push(".".into());
    }
    let mut o = Opts { tests: Vec::new(), min_depth: 0, max_depth: usize::MAX };
    let mut it = args[split..].iter();
    let mut negate = false;
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().cloned().ok_or_else(|| format!("missing argument to `{a}` ({what})"));
        let test = match a.as_str() {
            "!" | "-not" => {
                negate = !negate;
                continue;
            }
            "-print" | "-a" | "-and" => continue,
            "-name" | "-iname" => value("a pattern").map(|p| Some(Test::Name(p, a == "-iname"))),
            "-path" | "-wholename" | "-ipath" => value("a pattern").map(|p| Some(Test::Path(p, a == "-ipath"))),
            "-type" => value("f, d or l").and_then(|t| match t.as_str() {
                "f" | "d" | "l" => Ok(Some(Test::Type(t.chars().next().unwrap_or('f')))),
                _ => Err(format!("unknown argument to -type: {t} (use f, d or l)")),
            }),
            "-empty" => Ok(Some(Test::Empty)),
            "-maxdepth" | "-mindepth" => value("a number").and_then(|n| {
                let n: usize = n.parse().map_err(|_| format!("expected a non-negative number after {a}, not {n:?}"))?;
                if a == "-maxdepth" {
                    o.max_depth = n;
                } else {
                    o.min_depth = n;
                }
                Ok(None)
            }),
            other => Err(format!(
                "unsupported expression `{other}` (this find knows -name -iname -path -ipath -type -empty \
                 -maxdepth -mindepth -not)"
            )),
        };
        match test {
            Ok(Some(t)) => {
                o.tests.push(if negate { Test::Not(Box::new(t)) } else { t });
                negate = false;
            }
            Ok(None) => {}
            Err(e) => {
                complain(NAME, e);
                return 1;
            }
        }
    }
    let mut status = 0;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for root in &roots {
        match std::fs::symlink_metadata(root) {
            Ok(meta) => visit(root, &meta, 0, &o, &mut out, &mut status),
            Err(e) => {
                complain(NAME, format!("'{root}': {}", io_message(&e)));
                status = 1;
            }
        }
    }
    status
}

fn visit(
    path: &str,
    meta: &std::fs::Metadata,
    depth: usize,
    o: &Opts,
    out: &mut impl std::io::Write,
    status: &mut i32,
) {
    if depth >= o.min_depth && o.tests.iter().all(|t| holds(t, path, meta)) && writeln!(out, "{path}").is_err() {
        return;
    }
    if !meta.is_dir() || depth >= o.max_depth {
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => {
            complain(NAME, format!("'{path}': {}", io_message(&e)));
            *status = 1;
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(name) = e.file_name().into_string() else { continue };
        let child = if path.ends_with('/') { format!("{path}{name}") } else { format!("{path}/{name}") };
        if let Ok(meta) = std::fs::symlink_metadata(&child) {
            visit(&child, &meta, depth + 1, o, out, status);
        }
    }
}

fn holds(t: &Test, path: &str, meta: &std::fs::Metadata) -> bool {
    match t {
        Test::Name(p, fold) => {
            let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or(path);
            fnmatch::matches(p, base, *fold)
        }
        Test::Path(p, fold) => fnmatch::matches(p, path, *fold),
        Test::Type('d') => meta.is_dir(),
        Test::Type('l') => meta.file_type().is_symlink(),
        Test::Type(_) => meta.is_file(),
        Test::Empty => {
            if meta.is_dir() {
                std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
            } else {
                meta.len() == 0
            }
        }
        Test::Not(inner) => !holds(inner, path, meta),
    }
}

/// An I/O error as the GNU tools word it (without Rust's `(os error N)` suffix).
pub(crate) fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}
