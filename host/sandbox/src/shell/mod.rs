//! The sandbox shell: [`parse`]d scripts run by an interpreter that lives on the
//! host but never touches the filesystem itself. Every command, and everything that
//! reads or writes a file (redirections via `cat`/`tee`, globs via `__glob`, `cd`'s
//! check via `__isdir`), runs as a Wasm program through [`Programs`], confined to the
//! workspace. Pipelines run stage after stage with the bytes in between (bounded),
//! which is exact for the finite commands an agent runs.

mod parse;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use parse::{AndOr, Command, Op, Part, Pipeline, Redirect, Script, Word};
pub use parse::{MAX_SCRIPT, SyntaxError, parse};

/// The sandbox's home and initial working directory.
pub const HOME: &str = "/workspace";
/// Programs one shell call may start.
const MAX_COMMANDS: usize = 1_000;
/// Bytes of one expanded command line.
const MAX_ARGS: usize = 1 << 20;

/// What one program run produced.
#[derive(Debug, Default, Clone)]
pub struct Output {
    /// Stdout (with stderr when merged).
    pub stdout: Vec<u8>,
    /// Stderr.
    pub stderr: Vec<u8>,
    /// Exit status (126/127 and 137 are the shell's own: cannot run, not found, stopped).
    pub status: i32,
    /// Why the host stopped it, if it did.
    pub stopped: Option<String>,
    /// Why a write failed when the workspace's quota refused it (guests see only
    /// an I/O error).
    pub workspace_full: Option<String>,
}

/// One program run the shell asks for.
pub struct Spawn<'a> {
    /// `argv`; `argv[0]` is a name [`Programs::has`] knows.
    pub argv: &'a [String],
    /// The environment.
    pub env: &'a [(String, String)],
    /// Working directory (`/workspace` or below).
    pub cwd: &'a str,
    /// Stdin.
    pub stdin: Vec<u8>,
    /// `2>&1`.
    pub merge_stderr: bool,
    /// Time left.
    pub deadline: Duration,
}

/// Boxed future of a program run.
pub type Running<'a> = Pin<Box<dyn Future<Output = Output> + Send + 'a>>;

/// The programs the shell can start (the sandbox's Wasm commands).
pub trait Programs: Sync {
    /// Whether `name` is a program.
    fn has(&self, name: &str) -> bool;
    /// Every program's name, for `help` and "not found".
    fn names(&self) -> Vec<String>;
    /// Runs one program to its end.
    fn spawn<'a>(&'a self, spawn: Spawn<'a>) -> Running<'a>;
}

/// How a script ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Everything its commands printed on stderr (not redirected), in order.
    pub stderr: Vec<u8>,
    /// The last status (`exit N`, or the last pipeline's).
    pub status: i32,
    /// Set when the call was stopped: time ran out, too many commands, cancelled.
    pub stopped: Option<String>,
}

/// Runs `script` (already checked with [`parse`]) from `/workspace`.
pub async fn run(
    programs: &dyn Programs,
    script: &str,
    env: &[(String, String)],
    deadline: Duration,
    pipe_cap: usize,
) -> Outcome {
    let parsed = match parse(script) {
        Ok(s) => s,
        Err(e) => return Outcome { stderr: format!("sh: {e}\n").into_bytes(), status: 2, ..Outcome::default() },
    };
    let mut sh = Shell {
        programs,
        vars: env.iter().cloned().collect(),
        positional: vec!["sh".into()],
        cwd: HOME.into(),
        status: 0,
        until: Instant::now() + deadline,
        limit: deadline,
        commands: 0,
        stderr: Vec::new(),
        stopped: None,
        exit: None,
        pipe_cap,
    };
    let stdout = sh.script(&parsed, Vec::new()).await;
    Outcome { stdout, stderr: sh.stderr, status: sh.exit.unwrap_or(sh.status), stopped: sh.stopped }
}

struct Shell<'p> {
    programs: &'p dyn Programs,
    vars: BTreeMap<String, String>,
    positional: Vec<String>,
    cwd: String,
    status: i32,
    until: Instant,
    limit: Duration,
    commands: usize,
    stderr: Vec<u8>,
    stopped: Option<String>,
    exit: Option<i32>,
    pipe_cap: usize,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One field of an expanded word: its text, and the glob pattern it stands for
/// (quoted characters escaped) when an unquoted wildcard is in it.
struct Field {
    text: String,
    pattern: String,
    glob: bool,
}

impl<'p> Shell<'p> {
    fn done(&self) -> bool {
        self.exit.is_some() || self.stopped.is_some()
    }

    fn say(&mut self, message: impl AsRef<str>) {
        self.push_stderr(format!("sh: {}\n", message.as_ref()).as_bytes());
    }

    fn push_stderr(&mut self, bytes: &[u8]) {
        let room = self.pipe_cap.saturating_sub(self.stderr.len());
        self.stderr.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn script<'a>(&'a mut self, script: &'a Script, stdin: Vec<u8>) -> Boxed<'a, Vec<u8>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut stdin = Some(stdin);
            for and_or in script {
                if self.done() {
                    break;
                }
                let bytes = self.and_or(and_or, stdin.take().unwrap_or_default()).await;
                self.append(&mut out, &bytes);
            }
            out
        })
    }

    fn append(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        let room = self.pipe_cap.saturating_sub(out.len());
        out.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    async fn and_or(&mut self, list: &AndOr, stdin: Vec<u8>) -> Vec<u8> {
        let mut out = self.pipeline(&list.first, stdin).await;
        for (op, next) in &list.rest {
            if self.done() {
                break;
            }
            let run = match op {
                Op::And => self.status == 0,
                Op::Or => self.status != 0,
            };
            if run {
                let bytes = self.pipeline(next, Vec::new()).await;
                self.append(&mut out, &bytes);
            }
        }
        out
    }

    async fn pipeline(&mut self, p: &Pipeline, stdin: Vec<u8>) -> Vec<u8> {
        let mut data = stdin;
        for cmd in &p.commands {
            if self.done() {
                return Vec::new();
            }
            data = self.command(cmd, data).await;
        }
        if p.negate {
            self.status = i32::from(self.status == 0);
        }
        data
    }

    /// Time left, or `None` (and the call stopped) when it ran out.
    fn left(&mut self) -> Option<Duration> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.stop(format!("the command ran longer than its limit of {}s", self.limit.as_secs()));
            return None;
        }
        Some(left)
    }

    fn stop(&mut self, why: String) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
        self.status = 124;
    }

    /// Runs one program (counting it), folding a host stop into the call's.
    async fn spawn(&mut self, argv: &[String], env: &[(String, String)], stdin: Vec<u8>, merge: bool) -> Output {
        self.commands += 1;
        if self.commands > MAX_COMMANDS {
            self.stop(format!("the command started more than {MAX_COMMANDS} programs"));
            return Output { status: 124, ..Output::default() };
        }
        let Some(deadline) = self.left() else { return Output { status: 124, ..Output::default() } };
        let cwd = self.cwd.clone();
        let out = self.programs.spawn(Spawn { argv, env, cwd: &cwd, stdin, merge_stderr: merge, deadline }).await;
        if let Some(why) = &out.stopped {
            // Running out of time ends the whole call; another stop (memory, a trap)
            // fails only this command.
            if self.left().is_none() {
                return out;
            }
            self.say(format!("{}: stopped: {why}", argv[0]));
        }
        out
    }

    fn env(&self, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut vars = self.vars.clone();
        vars.insert("PWD".into(), self.cwd.clone());
        for (k, v) in extra {
            vars.insert(k.clone(), v.clone());
        }
        vars.into_iter().collect()
    }

    async fn command(&mut self, cmd: &Command, stdin: Vec<u8>) -> Vec<u8> {
        let mut assigned = Vec::with_capacity(cmd.assignments.len());
        for (name, value) in &cmd.assignments {
            let value = self.expand_joined(value).await;
            assigned.push((name.clone(), value));
        }
        let mut argv = Vec::new();
        for word in &cmd.words {
            let fields = self.expand(word).await;
            argv.extend(fields);
        }
        let argv = self.glob(argv).await;
        if self.done() {
            return Vec::new();
        }
        if argv.iter().map(String::len).sum::<usize>() > MAX_ARGS {
            self.say(format!("argument list too long (over {} KiB)", MAX_ARGS >> 10));
            self.status = 126;
            return Vec::new();
        }
        // Redirections: where stdin comes from and where the outputs go.
        let mut input = None;
        let mut outputs: Vec<(u8, String, bool)> = Vec::new();
        let (mut merge, mut to_err) = (false, false);
        for r in &cmd.redirects {
            match r {
                Redirect::Input(w) => input = Some(self.expand_joined(w).await),
                Redirect::Output { fd, target, append } => {
                    let target = self.expand_joined(target).await;
                    outputs.retain(|(f, _, _)| f != fd);
                    outputs.push((*fd, target, *append));
                }
                Redirect::Both { target, append } => {
                    let target = self.expand_joined(target).await;
                    outputs.retain(|(f, _, _)| *f != 1);
                    outputs.push((1, target, *append));
                    merge = true;
                }
                Redirect::ErrToOut => merge = true,
                Redirect::OutToErr => to_err = true,
            }
        }
        let stdin = match input {
            None => stdin,
            Some(path) if path == "/dev/null" => Vec::new(),
            Some(path) => {
                let read = self.spawn(&["cat".into(), path.clone()], &self.env(&[]), Vec::new(), false).await;
                if read.status != 0 {
                    self.say(format!("{path}: cannot read: {}", first_line(&read.stderr)));
                    self.status = 1;
                    return Vec::new();
                }
                read.stdout
            }
        };
        let mut out = if argv.is_empty() {
            for (k, v) in assigned {
                self.vars.insert(k, v);
            }
            Output::default()
        } else {
            self.run(&argv, &assigned, stdin, merge).await
        };
        if self.stopped.is_some() {
            self.push_stderr(&out.stderr);
            self.status = 124;
            return Vec::new();
        }
        if to_err {
            out.stderr = [std::mem::take(&mut out.stderr), std::mem::take(&mut out.stdout)].concat();
        }
        for (fd, target, append) in outputs {
            let bytes = if fd == 1 { std::mem::take(&mut out.stdout) } else { std::mem::take(&mut out.stderr) };
            match target.as_str() {
                "/dev/null" => {}
                "/dev/stdout" => out.stdout.extend(bytes),
                "/dev/stderr" => out.stderr.extend(bytes),
                _ => {
                    let mut tee = vec!["tee".to_string()];
                    if append {
                        tee.push("-a".into());
                    }
                    tee.push(target.clone());
                    let wrote = self.spawn(&tee, &self.env(&[]), bytes, false).await;
                    if wrote.status != 0 {
                        let why = wrote.workspace_full.unwrap_or_else(|| first_line(&wrote.stderr));
                        self.say(format!("{target}: cannot write: {why}"));
                        out.status = 1;
                    }
                }
            }
        }
        self.push_stderr(&out.stderr);
        self.status = out.status;
        out.stdout
    }

    /// Runs a builtin or a program.
    async fn run(&mut self, argv: &[String], assigned: &[(String, String)], stdin: Vec<u8>, merge: bool) -> Output {
        let name = argv[0].as_str();
        let args = &argv[1..];
        let text = |s: String| Output { stdout: s.into_bytes(), ..Output::default() };
        let fail = |status: i32, s: String| Output { stderr: s.into_bytes(), status, ..Output::default() };
        match name {
            "cd" => return self.cd(args).await,
            "pwd" => return text(format!("{}\n", self.cwd)),
            ":" | "true" => return Output::default(),
            "false" => return Output { status: 1, ..Output::default() },
            "exit" => {
                let code = args.first().map_or(Some(self.status), |a| a.parse().ok());
                return match code {
                    Some(code) => {
                        self.exit = Some(code);
                        Output { status: code, ..Output::default() }
                    }
                    None => fail(2, format!("sh: exit: {}: numeric argument required\n", args[0])),
                };
            }
            "export" | "unset" | "readonly" => {
                for a in args {
                    if name == "unset" {
                        self.vars.remove(a);
                    } else if let Some((k, v)) = a.split_once('=') {
                        self.vars.insert(k.to_string(), v.to_string());
                    }
                }
                return Output::default();
            }
            "env" | "printenv" if args.is_empty() || name == "env" && args.iter().all(|a| a.contains('=')) => {
                let mut extra: Vec<(String, String)> = assigned.to_vec();
                extra.extend(args.iter().filter_map(|a| a.split_once('=')).map(|(k, v)| (k.into(), v.into())));
                let lines: String = self.env(&extra).iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                return text(lines);
            }
            "env" => {
                // `env A=1 cmd args…`
                let split = args.iter().position(|a| !a.contains('=')).unwrap_or(args.len());
                let mut extra: Vec<(String, String)> = assigned.to_vec();
                extra.extend(args[..split].iter().filter_map(|a| a.split_once('=')).map(|(k, v)| (k.into(), v.into())));
                return Box::pin(self.run(&args[split..], &extra, stdin, merge)).await;
            }
            "command" | "which" | "type" => {
                let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                let mut out = String::new();
                let mut status = 0;
                for n in names {
                    if BUILTINS.contains(&n.as_str()) {
                        out.push_str(&if name == "type" {
                            format!("{n} is a shell builtin\n")
                        } else {
                            format!("{n}\n")
                        });
                    } else if self.programs.has(program_name(n)) {
                        out.push_str(&format!("/bin/{}\n", program_name(n)));
                    } else {
                        status = 1;
                    }
                }
                return Output { stdout: out.into_bytes(), status, ..Output::default() };
            }
            "help" => return text(self.help()),
            "sh" | "bash" | "dash" => return self.subshell(args, stdin).await,
            _ => {}
        }
        let mut argv = argv.to_vec();
        if name.ends_with(".py") && !self.programs.has(program_name(name)) {
            argv.insert(0, "python3".into());
        } else {
            argv[0] = program_name(name).to_string();
        }
        if !self.programs.has(&argv[0]) {
            return fail(
                127,
                format!("sh: command not found in the sandbox: {name}\navailable: {}\n", self.available().join(" ")),
            );
        }
        let env = self.env(assigned);
        self.spawn(&argv, &env, stdin, merge).await
    }

    fn available(&self) -> Vec<String> {
        let mut names: Vec<String> = self.programs.names().into_iter().filter(|n| !n.starts_with("__")).collect();
        names.extend(BUILTINS.iter().map(|s| s.to_string()));
        names.sort();
        names.dedup();
        names
    }

    fn help(&self) -> String {
        format!(
            "A POSIX sh subset running in a WebAssembly sandbox over /workspace.\n\
             Syntax: pipes |, redirections < > >> 2> 2>&1 &>, && || ;, quotes, $VAR ${{VAR}} $? $(…), globs, NAME=value.\n\
             Commands: {}\n",
            self.available().join(" ")
        )
    }

    /// `sh -c SCRIPT [NAME ARG…]`: a nested script with its own positional parameters.
    async fn subshell(&mut self, args: &[String], stdin: Vec<u8>) -> Output {
        let Some(pos) = args.iter().position(|a| a == "-c") else {
            return Output {
                stderr: b"sh: only `sh -c SCRIPT` is supported here\n".to_vec(),
                status: 2,
                ..Output::default()
            };
        };
        let Some(src) = args.get(pos + 1) else {
            return Output {
                stderr: b"sh: -c: option requires an argument\n".to_vec(),
                status: 2,
                ..Output::default()
            };
        };
        let script = match parse(src) {
            Ok(s) => s,
            Err(e) => return Output { stderr: format!("sh: {e}\n").into_bytes(), status: 2, ..Output::default() },
        };
        let saved = (std::mem::take(&mut self.positional), self.cwd.clone(), self.vars.clone());
        self.positional = args[pos + 2..].to_vec();
        if self.positional.is_empty() {
            self.positional.push("sh".into());
        }
        let stdout = self.script(&script, stdin).await;
        let status = self.exit.take().unwrap_or(self.status);
        (self.positional, self.cwd, self.vars) = saved;
        Output { stdout, status, ..Output::default() }
    }

    async fn cd(&mut self, args: &[String]) -> Output {
        let target = args.first().map(String::as_str).unwrap_or(HOME);
        let Some(path) = resolve(&self.cwd, target) else {
            return Output {
                stderr: format!("sh: cd: {target}: outside the workspace ({HOME})\n").into_bytes(),
                status: 1,
                ..Output::default()
            };
        };
        let env = self.env(&[]);
        let check = self.spawn(&["__isdir".into(), path.clone()], &env, Vec::new(), false).await;
        if check.status != 0 {
            return Output {
                stderr: format!("sh: cd: {target}: No such directory\n").into_bytes(),
                status: 1,
                ..Output::default()
            };
        }
        self.cwd = path;
        Output::default()
    }

    /// A variable's value.
    fn var(&self, name: &str) -> String {
        match name {
            "?" => self.status.to_string(),
            "#" => self.positional.len().saturating_sub(1).to_string(),
            "$" => "1".into(),
            n if n.chars().all(|c| c.is_ascii_digit()) => {
                n.parse::<usize>().ok().and_then(|i| self.positional.get(i)).cloned().unwrap_or_default()
            }
            "PWD" => self.cwd.clone(),
            n => self.vars.get(n).cloned().unwrap_or_default(),
        }
    }

    /// A word as one string (assignments, redirection targets): no splitting, no globs.
    async fn expand_joined(&mut self, word: &Word) -> String {
        let mut s = String::new();
        for part in word {
            match part {
                Part::Text { text, .. } => s.push_str(text),
                Part::Var { name, .. } => s.push_str(&self.var(name)),
                Part::Subst { script, .. } => s.push_str(&self.substitute(script).await),
            }
        }
        s
    }

    async fn substitute(&mut self, script: &Script) -> String {
        let saved = self.cwd.clone();
        let out = self.script(script, Vec::new()).await;
        self.cwd = saved;
        let mut s = String::from_utf8_lossy(&out).into_owned();
        while s.ends_with('\n') {
            s.pop();
        }
        s
    }

    /// A word as fields: unquoted expansions split on blanks, wildcards marked.
    async fn expand(&mut self, word: &Word) -> Vec<Field> {
        let mut fields: Vec<Field> = Vec::new();
        let mut cur: Option<Field> = None;
        for part in word {
            let (value, quoted, literal) = match part {
                Part::Text { text, quoted } => (text.clone(), *quoted, true),
                Part::Var { name, quoted } => (self.var(name), *quoted, false),
                Part::Subst { script, quoted } => (self.substitute(script).await, *quoted, false),
            };
            if quoted || literal {
                let f = cur.get_or_insert_with(|| Field { text: String::new(), pattern: String::new(), glob: false });
                f.text.push_str(&value);
                if quoted {
                    f.pattern.push_str(&escape_glob(&value));
                } else {
                    f.pattern.push_str(&value);
                    f.glob |= value.contains(['*', '?', '[']);
                }
                continue;
            }
            // An unquoted expansion: split on blanks; its wildcards stay literal.
            let starts_blank = value.starts_with([' ', '\t', '\n']);
            let ends_blank = value.ends_with([' ', '\t', '\n']);
            let pieces: Vec<&str> = value.split([' ', '\t', '\n']).filter(|p| !p.is_empty()).collect();
            if starts_blank && let Some(f) = cur.take() {
                fields.push(f);
            }
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0
                    && let Some(f) = cur.take()
                {
                    fields.push(f);
                }
                let f = cur.get_or_insert_with(|| Field { text: String::new(), pattern: String::new(), glob: false });
                f.text.push_str(piece);
                f.pattern.push_str(&escape_glob(piece));
            }
            if ends_blank && let Some(f) = cur.take() {
                fields.push(f);
            }
        }
        fields.extend(cur);
        fields
    }

    /// Expands the fields with wildcards, in one `__glob` run, inside the sandbox.
    async fn glob(&mut self, fields: Vec<Field>) -> Vec<String> {
        let patterns: Vec<String> = fields.iter().filter(|f| f.glob).map(|f| f.pattern.clone()).collect();
        if patterns.is_empty() {
            return fields.into_iter().map(|f| f.text).collect();
        }
        let mut argv = vec!["__glob".to_string()];
        argv.extend(patterns);
        let env = self.env(&[]);
        let out = self.spawn(&argv, &env, Vec::new(), false).await;
        let mut matches: std::vec::IntoIter<Vec<String>> =
            serde_json::from_slice::<Vec<Vec<String>>>(&out.stdout).unwrap_or_default().into_iter();
        let mut argv = Vec::with_capacity(fields.len());
        for f in fields {
            if !f.glob {
                argv.push(f.text);
                continue;
            }
            match matches.next() {
                Some(found) if !found.is_empty() => argv.extend(found),
                // No match: the word stays as written (POSIX sh).
                _ => argv.push(f.text),
            }
        }
        argv
    }
}

/// The shell's own commands.
const BUILTINS: [&str; 16] = [
    "cd", "pwd", "export", "unset", "exit", "env", "true", "false", ":", "command", "which", "type", "help", "sh",
    "bash", "readonly",
];

/// `/bin/ls` and `/usr/bin/ls` name `ls`.
fn program_name(name: &str) -> &str {
    for prefix in ["/usr/local/bin/", "/usr/bin/", "/bin/"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest;
        }
    }
    name
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn first_line(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let line = s.lines().next().unwrap_or("failed").trim();
    line.rsplit(": ").next().unwrap_or(line).to_string()
}

/// `target` against `cwd`, normalised; `None` when it leaves the workspace.
fn resolve(cwd: &str, target: &str) -> Option<String> {
    let joined = if target.starts_with('/') { target.to_string() } else { format!("{cwd}/{target}") };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    let path = format!("/{}", parts.join("/"));
    (path == HOME || path.starts_with(&format!("{HOME}/"))).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn cd_stays_inside_the_workspace() {
        assert_eq!(resolve("/workspace", "a/b").as_deref(), Some("/workspace/a/b"));
        assert_eq!(resolve("/workspace/a", "..").as_deref(), Some("/workspace"));
        assert_eq!(resolve("/workspace", ".."), None);
        assert_eq!(resolve("/workspace", "/etc"), None);
        assert_eq!(resolve("/workspace/a", "/workspace/b/./c").as_deref(), Some("/workspace/b/c"));
        assert_eq!(resolve("/workspace", "../workspace2"), None);
    }
}
