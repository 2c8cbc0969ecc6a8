//! `grep`: the options agents use (`-i -v -c -n -l -L -h -H -r -E -F -w -x -o -q -s
//! -m N -e PAT`, `--include/--exclude GLOB`), basic regular expressions translated
//! to the `regex` crate's syntax. No context lines (`-A/-B/-C`).

use std::io::{BufRead, Write};

use regex::{Regex, RegexBuilder};

use crate::{complain, fnmatch};

const NAME: &str = "grep";

#[derive(Default)]
struct Opts {
    patterns: Vec<String>,
    ignore_case: bool,
    invert: bool,
    count: bool,
    line_numbers: bool,
    files_with: bool,
    files_without: bool,
    with_name: Option<bool>,
    recursive: bool,
    extended: bool,
    fixed: bool,
    word: bool,
    line: bool,
    only: bool,
    quiet: bool,
    silent: bool,
    max: Option<u64>,
    include: Vec<String>,
    exclude: Vec<String>,
}

pub fn main(args: &[String], extended: bool) -> i32 {
    let mut o = Opts { extended, ..Opts::default() };
    let mut operands = Vec::new();
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_operands || !a.starts_with('-') || a == "-" {
            operands.push(a.clone());
            continue;
        }
        if a == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (key, value) = match long.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = || value.clone().or_else(|| args.get(i).cloned().inspect(|_| i += 1));
            match key {
                "ignore-case" => o.ignore_case = true,
                "invert-match" => o.invert = true,
                "count" => o.count = true,
                "line-number" => o.line_numbers = true,
                "files-with-matches" => o.files_with = true,
                "files-without-match" => o.files_without = true,
                "no-filename" => o.with_name = Some(false),
                "with-filename" => o.with_name = Some(true),
                "recursive" | "dereference-recursive" => o.recursive = true,
                "extended-regexp" => o.extended = true,
                "fixed-strings" => o.fixed = true,
                "basic-regexp" => o.extended = false,
                "word-regexp" => o.word = true,
                "line-regexp" => o.line = true,
                "only-matching" => o.only = true,
                "quiet" | "silent" => o.quiet = true,
                "no-messages" => o.silent = true,
                "color" | "colour" => {}
                "regexp" => match value() {
                    Some(v) => o.patterns.push(v),
                    None => return usage("option --regexp needs a pattern"),
                },
                "max-count" => match value().and_then(|v| v.parse().ok()) {
                    Some(n) => o.max = Some(n),
                    None => return usage("option --max-count needs a number"),
                },
                "include" => match value() {
                    Some(v) => o.include.push(v),
                    None => return usage("option --include needs a glob"),
                },
                "exclude" => match value() {
                    Some(v) => o.exclude.push(v),
                    None => return usage("option --exclude needs a glob"),
                },
                _ => return usage(&format!("unrecognized option '--{key}'")),
            }
            continue;
        }
        let flags: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < flags.len() {
            let f = flags[j];
            j += 1;
            match f {
                'i' | 'y' => o.ignore_case = true,
                'v' => o.invert = true,
                'c' => o.count = true,
                'n' => o.line_numbers = true,
                'l' => o.files_with = true,
                'L' => o.files_without = true,
                'h' => o.with_name = Some(false),
                'H' => o.with_name = Some(true),
                'r' | 'R' => o.recursive = true,
                'E' => o.extended = true,
                'F' => o.fixed = true,
                'G' => o.extended = false,
                'w' => o.word = true,
                'x' => o.line = true,
                'o' => o.only = true,
                'q' => o.quiet = true,
                's' => o.silent = true,
                'e' | 'm' => {
                    let rest: String = flags[j..].iter().collect();
                    j = flags.len();
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i - 1).cloned()
                    } else {
                        Some(rest)
                    };
                    let Some(value) = value else { return usage(&format!("option requires an argument -- '{f}'")) };
                    if f == 'e' {
                        o.patterns.push(value);
                    } else {
                        match value.parse() {
                            Ok(n) => o.max = Some(n),
                            Err(_) => return usage(&format!("invalid max count {value:?}")),
                        }
                    }
                }
                _ => return usage(&format!("invalid option -- '{f}'")),
            }
        }
    }
    if o.patterns.is_empty() {
        if operands.is_empty() {
            return usage("no pattern given");
        }
        o.patterns.push(operands.remove(0));
    }
    let re = match build(&o) {
        Ok(re) => re,
        Err(e) => {
            complain(NAME, format!("invalid pattern: {e}"));
            return 2;
        }
    };
    if operands.is_empty() {
        operands.push(if o.recursive { ".".into() } else { "-".into() });
    }
    let mut files = Vec::new();
    let mut trouble = false;
    for op in &operands {
        if o.recursive && op != "-" && std::fs::metadata(op).is_ok_and(|m| m.is_dir()) {
            walk(op, &o, &mut files);
        } else {
            files.push(op.clone());
        }
    }
    let show_name = o.with_name.unwrap_or(files.len() > 1 || o.recursive);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut any = false;
    for file in &files {
        let reader: Box<dyn BufRead> = if file == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            match std::fs::File::open(file) {
                Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                    if !o.silent {
                        complain(NAME, format!("{file}: Is a directory"));
                    }
                    continue;
                }
                Ok(f) => Box::new(std::io::BufReader::new(f)),
                Err(e) => {
                    if !o.silent {
                        complain(NAME, format!("{file}: {}", crate::find::io_message(&e)));
                    }
                    trouble = true;
                    continue;
                }
            }
        };
        let label = if file == "-" { "(standard input)" } else { file.as_str() };
        match search(reader, label, show_name, &re, &o, &mut out) {
            Ok(found) => any |= found,
            Err(e) => {
                if !o.silent {
                    complain(NAME, format!("{label}: {e}"));
                }
                trouble = true;
            }
        }
        if any && o.quiet {
            break;
        }
    }
    let _ = out.flush();
    if trouble && !(o.quiet && any) {
        2
    } else if any {
        0
    } else {
        1
    }
}

fn usage(message: &str) -> i32 {
    complain(NAME, message);
    eprintln!("usage: grep [-ivcnlLhHrEFwxoqs] [-m NUM] [-e PATTERN]... [PATTERN] [FILE...]");
    2
}

/// One regex for all patterns, in the `regex` crate's syntax.
fn build(o: &Opts) -> Result<Regex, regex::Error> {
    let alternatives: Vec<String> = o
        .patterns
        .iter()
        .flat_map(|p| p.split('\n').map(str::to_string).collect::<Vec<_>>())
        .map(|p| {
            if o.fixed {
                regex::escape(&p)
            } else if o.extended {
                p
            } else {
                basic_to_extended(&p)
            }
        })
        .collect();
    let mut body = alternatives.iter().map(|a| format!("(?:{a})")).collect::<Vec<_>>().join("|");
    if o.word {
        body = format!(r"\b(?:{body})\b");
    }
    if o.line {
        body = format!("^(?:{body})$");
    }
    RegexBuilder::new(&body).case_insensitive(o.ignore_case).size_limit(16 << 20).build()
}

/// POSIX basic regular expressions: `\( \) \{ \} \| \+ \?` are the operators and the
/// bare characters are literals; everything else means the same as in `regex`.
pub(crate) fn basic_to_extended(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if in_class {
            if c == '[' && chars.peek() == Some(&':') {
                // A character class name like [:digit:] passes through whole.
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
                continue;
            }
            if c == '\\' {
                out.push_str("\\\\");
                continue;
            }
            out.push(c);
            if c == ']' {
                in_class = false;
            }
            continue;
        }
        match c {
            '\\' => match chars.next() {
                Some(d @ ('(' | ')' | '{' | '}' | '|' | '+' | '?')) => out.push(d),
                Some(d) => {
                    out.push('\\');
                    out.push(d);
                }
                None => out.push_str("\\\\"),
            },
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '[' => {
                in_class = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '*' if out.is_empty() || out.ends_with('^') => out.push_str("\\*"),
            _ => out.push(c),
        }
    }
    out
}

fn search(
    reader: Box<dyn BufRead>,
    label: &str,
    show_name: bool,
    re: &Regex,
    o: &Opts,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let mut count: u64 = 0;
    for (n, line) in reader.split(b'\n').enumerate() {
        let bytes = line?;
        let line = String::from_utf8_lossy(&bytes);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if re.is_match(line) == o.invert {
            continue;
        }
        count += 1;
        if o.quiet || o.files_with || o.files_without {
            break;
        }
        if !o.count {
            let prefix = match (show_name, o.line_numbers) {
                (true, true) => format!("{label}:{}:", n + 1),
                (true, false) => format!("{label}:"),
                (false, true) => format!("{}:", n + 1),
                (false, false) => String::new(),
            };
            if o.only && !o.invert {
                for m in re.find_iter(line).filter(|m| !m.as_str().is_empty()) {
                    writeln!(out, "{prefix}{}", m.as_str())?;
                }
            } else {
                writeln!(out, "{prefix}{line}")?;
            }
        }
        if o.max.is_some_and(|m| count >= m) {
            break;
        }
    }
    if o.quiet {
        return Ok(count > 0);
    }
    if (o.files_with && count > 0) || (o.files_without && count == 0) {
        writeln!(out, "{label}")?;
    } else if o.count {
        if show_name {
            writeln!(out, "{label}:{count}")?;
        } else {
            writeln!(out, "{count}")?;
        }
    }
    Ok(if o.files_without { count == 0 } else { count > 0 })
}

/// The files under `dir`, sorted, honouring `--include`/`--exclude`; links are not followed.
fn walk(dir: &str, o: &Opts, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(name) = e.file_name().into_string() else { continue };
        let path = format!("{}/{name}", dir.trim_end_matches('/'));
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, o, files),
            Ok(t) if t.is_file() => {
                if !o.include.is_empty() && !o.include.iter().any(|g| fnmatch::matches(g, &name, false)) {
                    continue;
                }
                if o.exclude.iter().any(|g| fnmatch::matches(g, &name, false)) {
                    continue;
                }
                files.push(path);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::basic_to_extended as b;

    #[test]
    fn basic_expressions_become_extended_ones() {
        assert_eq!(b(r"a\(b\)c"), "a(b)c");
        assert_eq!(b("a(b)c+?"), r"a\(b\)c\+\?");
        assert_eq!(b(r"x\{2\}"), "x{2}");
        assert_eq!(b("[0-9]*"), "[0-9]*");
        assert_eq!(b("*a"), r"\*a");
        assert_eq!(b("[]a]"), r"[\]a]");
        assert_eq!(b("[[:digit:]]+"), r"[[:digit:]]\+");
        assert_eq!(b(r"a\|b"), "a|b");
    }
}
