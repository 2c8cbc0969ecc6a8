//! The sandbox shell's grammar: a POSIX `sh` subset. A script is a list of and-or
//! lists (`;`, newline) of pipelines (`&&`, `||`, leading `!`) of simple commands
//! (`NAME=value` prefixes, words, redirections `<`, `>`, `>>`, `2>`, `2>>`, `2>&1`,
//! `>&2`, `&>`). Words keep their quoting, so expansion knows which characters
//! came from quotes: `'…'` is literal, `"…"` expands `$VAR`, `${VAR}`, `$?` and
//! `$(…)` without splitting or globbing, and `\` escapes one character.
//!
//! Compound commands (`if`, `for`, `while`, `case`, functions, subshells) and
//! background jobs are refused with a message that says what exists instead.

use std::fmt;

/// Longest script accepted.
pub const MAX_SCRIPT: usize = 64 << 10;
/// Deepest nesting of `$(…)`.
const MAX_NESTING: usize = 8;

/// A parse failure, phrased for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "syntax error: {}", self.0)
    }
}

/// A whole script: and-or lists run one after the other.
pub type Script = Vec<AndOr>;

/// Pipelines joined by `&&` / `||`.
#[derive(Debug, Clone, PartialEq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// Each following pipeline with the operator before it.
    pub rest: Vec<(Op, Pipeline)>,
}

/// `&&` or `||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Run the next pipeline when this one succeeded.
    And,
    /// Run the next pipeline when this one failed.
    Or,
}

/// Commands joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// `!` in front: the status is inverted.
    pub negate: bool,
    /// The stages, left to right.
    pub commands: Vec<Command>,
}

/// One simple command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Command {
    /// `NAME=value` words before the command name.
    pub assignments: Vec<(String, Word)>,
    /// The command name and its arguments.
    pub words: Vec<Word>,
    /// Redirections, in order.
    pub redirects: Vec<Redirect>,
}

/// A redirection.
#[derive(Debug, Clone, PartialEq)]
pub enum Redirect {
    /// `< file`
    Input(Word),
    /// `> file`, `>> file` (append), for stdout (1) or stderr (2).
    Output {
        /// 1 or 2.
        fd: u8,
        /// The target file.
        target: Word,
        /// `>>`
        append: bool,
    },
    /// `2>&1`: stderr goes where stdout goes.
    ErrToOut,
    /// `>&2` / `1>&2`: stdout goes to stderr.
    OutToErr,
    /// `&> file` / `&>> file`: both to one file.
    Both {
        /// The target file.
        target: Word,
        /// `&>>`
        append: bool,
    },
}

/// A word as written: its parts, each knowing whether it was quoted.
pub type Word = Vec<Part>;

/// One piece of a word.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text; `quoted` text is never split nor globbed.
    Text {
        /// The characters.
        text: String,
        /// From quotes or a backslash escape.
        quoted: bool,
    },
    /// `$NAME`, `${NAME}`, `$?`, `$#`…
    Var {
        /// The variable's name.
        name: String,
        /// Inside double quotes.
        quoted: bool,
    },
    /// `$(…)` or `` `…` ``: the script's output, trailing newlines removed.
    Subst {
        /// The inner script.
        script: Script,
        /// Inside double quotes.
        quoted: bool,
    },
}

/// Parses a whole script.
pub fn parse(src: &str) -> Result<Script, SyntaxError> {
    if src.len() > MAX_SCRIPT {
        return Err(SyntaxError(format!("the command is {} bytes long; at most {MAX_SCRIPT}", src.len())));
    }
    let mut p = Parser { chars: src.chars().collect(), pos: 0, depth: 0 };
    let script = p.script(None)?;
    Ok(script)
}

const UNSUPPORTED: [&str; 11] =
    ["if", "then", "for", "while", "until", "case", "do", "done", "fi", "function", "select"];

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.peek_at(i) == Some(c))
    }

    /// Skips blanks and comments, not newlines.
    fn blanks(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\r' {
                self.pos += 1;
            } else if c == '\\' && self.peek_at(1) == Some('\n') {
                self.pos += 2;
            } else if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A list up to the end (or to `close`, for `$(…)`).
    fn script(&mut self, close: Option<char>) -> Result<Script, SyntaxError> {
        let mut list = Vec::new();
        loop {
            self.blanks();
            match self.peek() {
                None => break,
                Some(c) if Some(c) == close => break,
                Some('\n' | ';') => {
                    if self.peek() == Some(';') && list.is_empty() {
                        return Err(SyntaxError("unexpected `;`".into()));
                    }
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            list.push(self.and_or(close)?);
            self.blanks();
            match self.peek() {
                Some('&') if self.peek_at(1) != Some('&') => {
                    return Err(SyntaxError(
                        "background jobs (`&`) are not supported: commands run one after another".into(),
                    ));
                }
                Some(';' | '\n') => self.pos += 1,
                Some(c) if Some(c) == close => break,
                None => break,
                Some(c) => return Err(SyntaxError(format!("unexpected `{c}`"))),
            }
        }
        Ok(list)
    }

    fn and_or(&mut self, close: Option<char>) -> Result<AndOr, SyntaxError> {
        let first = self.pipeline(close)?;
        let mut rest = Vec::new();
        loop {
            self.blanks();
            let op = if self.starts_with("&&") {
                Op::And
            } else if self.starts_with("||") {
                Op::Or
            } else {
                break;
            };
            self.pos += 2;
            // A line break may follow the operator.
            while matches!(self.peek(), Some('\n' | ' ' | '\t')) {
                self.pos += 1;
            }
            rest.push((op, self.pipeline(close)?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self, close: Option<char>) -> Result<Pipeline, SyntaxError> {
        self.blanks();
        let mut negate = false;
        if self.peek() == Some('!') && matches!(self.peek_at(1), Some(' ' | '\t')) {
            negate = true;
            self.pos += 1;
        }
        let mut commands = vec![self.command(close)?];
        loop {
            self.blanks();
            if self.peek() == Some('|') && self.peek_at(1) != Some('|') {
                self.pos += 1;
                while matches!(self.peek(), Some('\n' | ' ' | '\t')) {
                    self.pos += 1;
                }
                commands.push(self.command(close)?);
            } else {
                break;
            }
        }
        Ok(Pipeline { negate, commands })
    }

    fn command(&mut self, close: Option<char>) -> Result<Command, SyntaxError> {
        let mut cmd = Command::default();
        loop {
            self.blanks();
            let Some(c) = self.peek() else { break };
            if Some(c) == close || matches!(c, '\n' | ';' | '|') || (c == '&' && self.peek_at(1) != Some('>')) {
                break;
            }
            if c == '(' || c == ')' || (c == '{' && matches!(self.peek_at(1), Some(' ' | '\n'))) {
                return Err(SyntaxError(format!(
                    "`{c}` groups and subshells are not supported; chain commands with `;`, `&&` and `||`, \
                     or write the logic in python3"
                )));
            }
            if let Some(r) = self.redirect()? {
                cmd.redirects.push(r);
                continue;
            }
            let word = self.word(close)?;
            if cmd.words.is_empty() {
                if let Some((name, value)) = assignment(&word) {
                    cmd.assignments.push((name, value));
                    continue;
                }
                if let [Part::Text { text, quoted: false }] = word.as_slice()
                    && UNSUPPORTED.contains(&text.as_str())
                {
                    return Err(SyntaxError(format!(
                        "`{text}` is not supported by the sandbox shell (it runs pipelines, redirections, \
                         `&&`, `||`, `;`, quoting, $VAR, $(…), globs and cd); for loops and conditions, \
                         write a python3 script"
                    )));
                }
            }
            cmd.words.push(word);
        }
        if cmd.words.is_empty() && cmd.assignments.is_empty() && cmd.redirects.is_empty() {
            return Err(SyntaxError(match self.peek() {
                Some(c) => format!("expected a command before `{c}`"),
                None => "expected a command at the end".into(),
            }));
        }
        Ok(cmd)
    }

    /// A redirection operator at the cursor, with its target.
    fn redirect(&mut self) -> Result<Option<Redirect>, SyntaxError> {
        type Make = fn(Option<Word>) -> Redirect;
        let ops: [(&str, Make); 12] = [
            ("2>&1", |_| Redirect::ErrToOut),
            ("1>&2", |_| Redirect::OutToErr),
            (">&2", |_| Redirect::OutToErr),
            ("&>>", |t| Redirect::Both { target: t.unwrap_or_default(), append: true }),
            ("&>", |t| Redirect::Both { target: t.unwrap_or_default(), append: false }),
            ("2>>", |t| Redirect::Output { fd: 2, target: t.unwrap_or_default(), append: true }),
            ("2>", |t| Redirect::Output { fd: 2, target: t.unwrap_or_default(), append: false }),
            ("1>>", |t| Redirect::Output { fd: 1, target: t.unwrap_or_default(), append: true }),
            ("1>", |t| Redirect::Output { fd: 1, target: t.unwrap_or_default(), append: false }),
            (">>", |t| Redirect::Output { fd: 1, target: t.unwrap_or_default(), append: true }),
            (">", |t| Redirect::Output { fd: 1, target: t.unwrap_or_default(), append: false }),
            ("<", |t| Redirect::Input(t.unwrap_or_default())),
        ];
        if self.starts_with("<<") {
            return Err(SyntaxError("here-documents (`<<`) are not supported; write the text to a file first".into()));
        }
        for (op, make) in ops {
            if !self.starts_with(op) {
                continue;
            }
            self.pos += op.chars().count();
            if op.ends_with('&') || op.ends_with("&1") || op.ends_with("&2") {
                return Ok(Some(make(None)));
            }
            self.blanks();
            match self.peek() {
                None | Some('\n' | ';' | '|' | '&' | '<' | '>') => {
                    return Err(SyntaxError(format!("`{op}` needs a file name after it")));
                }
                _ => {}
            }
            let target = self.word(None)?;
            return Ok(Some(make(Some(target))));
        }
        Ok(None)
    }

    /// One word, up to an unquoted blank or operator.
    fn word(&mut self, close: Option<char>) -> Result<Word, SyntaxError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == close || matches!(c, ' ' | '\t' | '\r' | '\n' | ';' | '|' | '&' | '<' | '>' | '(' | ')') {
                break;
            }
            match c {
                '\'' => {
                    flush(&mut parts, &mut text);
                    self.pos += 1;
                    let mut quoted = String::new();
                    loop {
                        match self.peek() {
                            None => return Err(SyntaxError("unterminated single quote".into())),
                            Some('\'') => break,
                            Some(c) => quoted.push(c),
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                    parts.push(Part::Text { text: quoted, quoted: true });
                }
                '"' => {
                    flush(&mut parts, &mut text);
                    self.pos += 1;
                    self.double_quoted(&mut parts)?;
                }
                '\\' => {
                    flush(&mut parts, &mut text);
                    self.pos += 1;
                    match self.peek() {
                        None => parts.push(Part::Text { text: "\\".into(), quoted: true }),
                        Some('\n') => self.pos += 1,
                        Some(c) => {
                            self.pos += 1;
                            parts.push(Part::Text { text: c.to_string(), quoted: true });
                        }
                    }
                }
                '$' | '`' => {
                    if let Some(part) = self.dollar(false)? {
                        flush(&mut parts, &mut text);
                        parts.push(part);
                    } else {
                        text.push('$');
                        self.pos += 1;
                    }
                }
                '~' if text.is_empty()
                    && parts.is_empty()
                    && matches!(self.peek_at(1), None | Some('/' | ' ' | '\t' | '\n' | ';')) =>
                {
                    self.pos += 1;
                    parts.push(Part::Text { text: crate::shell::HOME.into(), quoted: true });
                }
                c => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        flush(&mut parts, &mut text);
        if parts.is_empty() {
            return Err(SyntaxError(match self.peek() {
                Some(c) => format!("unexpected `{c}`"),
                None => "unexpected end of the command".into(),
            }));
        }
        Ok(parts)
    }

    /// The inside of `"…"`; the cursor is after the opening quote.
    fn double_quoted(&mut self, parts: &mut Word) -> Result<(), SyntaxError> {
        let mut text = String::new();
        // An empty "" is still a (empty) word.
        let start = parts.len();
        loop {
            match self.peek() {
                None => return Err(SyntaxError("unterminated double quote".into())),
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            text.push(c);
                            self.pos += 1;
                        }
                        Some('\n') => self.pos += 1,
                        _ => text.push('\\'),
                    }
                }
                Some('$' | '`') => match self.dollar(true)? {
                    Some(part) => {
                        if !text.is_empty() {
                            parts.push(Part::Text { text: std::mem::take(&mut text), quoted: true });
                        }
                        parts.push(part);
                    }
                    None => {
                        text.push('$');
                        self.pos += 1;
                    }
                },
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() || parts.len() == start {
            parts.push(Part::Text { text, quoted: true });
        }
        Ok(())
    }

    /// `$NAME`, `${NAME}`, `$?`, `$(…)` or `` `…` `` at the cursor, or `None` for a lone `$`.
    fn dollar(&mut self, quoted: bool) -> Result<Option<Part>, SyntaxError> {
        if self.peek() == Some('`') {
            self.pos += 1;
            return self.substitution('`', quoted).map(Some);
        }
        match self.peek_at(1) {
            Some('(') if self.peek_at(2) == Some('(') => {
                Err(SyntaxError("arithmetic `$((…))` is not supported; compute with python3 -c".into()))
            }
            Some('(') => {
                self.pos += 2;
                self.substitution(')', quoted).map(Some)
            }
            Some('{') => {
                self.pos += 2;
                let mut name = String::new();
                loop {
                    match self.peek() {
                        None => return Err(SyntaxError("unterminated `${`".into())),
                        Some('}') => break,
                        Some(c) if c.is_ascii_alphanumeric() || c == '_' || (name.is_empty() && "?#$".contains(c)) => {
                            name.push(c)
                        }
                        Some(c) => {
                            return Err(SyntaxError(format!(
                                "`${{{name}{c}…}}`: parameter operators are not supported, only `${{NAME}}`"
                            )));
                        }
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                if name.is_empty() {
                    return Err(SyntaxError("`${}` names no variable".into()));
                }
                Ok(Some(Part::Var { name, quoted }))
            }
            Some(c) if c == '?' || c == '#' || c == '$' || c.is_ascii_digit() => {
                self.pos += 2;
                Ok(Some(Part::Var { name: c.to_string(), quoted }))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                self.pos += 1;
                let mut name = String::new();
                while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.pos += 1;
                }
                Ok(Some(Part::Var { name, quoted }))
            }
            _ => Ok(None),
        }
    }

    fn substitution(&mut self, close: char, quoted: bool) -> Result<Part, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(SyntaxError(format!("command substitutions nest deeper than {MAX_NESTING}")));
        }
        let script = self.script(Some(close))?;
        if self.peek() != Some(close) {
            return Err(SyntaxError(format!("unterminated command substitution (missing `{close}`)")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Part::Subst { script, quoted })
    }
}

fn flush(parts: &mut Word, text: &mut String) {
    if !text.is_empty() {
        parts.push(Part::Text { text: std::mem::take(text), quoted: false });
    }
}

/// `NAME=value` (the name unquoted and valid), split into name and value.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Text { text, quoted: false }) = word.first() else { return None };
    let (name, value) = text.split_once('=')?;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    let mut rest = Vec::with_capacity(word.len());
    if !value.is_empty() {
        rest.push(Part::Text { text: value.to_string(), quoted: false });
    }
    rest.extend(word[1..].iter().cloned());
    Some((name.to_string(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Text { text: s.into(), quoted: false }
    }

    #[test]
    fn pipelines_lists_and_redirections_parse() {
        let s = parse("cat data.csv | grep 2026 | wc -l && echo ok || echo no; ls >out.txt 2>&1").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].first.commands.len(), 3);
        assert_eq!(s[0].rest.iter().map(|(op, _)| *op).collect::<Vec<_>>(), vec![Op::And, Op::Or]);
        let ls = &s[1].first.commands[0];
        assert_eq!(ls.words, vec![vec![lit("ls")]]);
        assert_eq!(
            ls.redirects,
            vec![Redirect::Output { fd: 1, target: vec![lit("out.txt")], append: false }, Redirect::ErrToOut]
        );
    }

    #[test]
    fn quoting_keeps_what_was_quoted() {
        let s = parse(r#"echo 'a b' "c $X d" e\ f $(pwd)"#).unwrap();
        let words = &s[0].first.commands[0].words;
        assert_eq!(words[1], vec![Part::Text { text: "a b".into(), quoted: true }]);
        assert_eq!(
            words[2],
            vec![
                Part::Text { text: "c ".into(), quoted: true },
                Part::Var { name: "X".into(), quoted: true },
                Part::Text { text: " d".into(), quoted: true }
            ]
        );
        assert_eq!(words[3], vec![lit("e"), Part::Text { text: " ".into(), quoted: true }, lit("f")]);
        assert!(matches!(&words[4][0], Part::Subst { quoted: false, .. }));
    }

    #[test]
    fn assignments_prefix_a_command() {
        let s = parse("A=1 B='x y' env").unwrap();
        let c = &s[0].first.commands[0];
        assert_eq!(c.assignments.len(), 2);
        assert_eq!(c.words, vec![vec![lit("env")]]);
    }

    #[test]
    fn unsupported_syntax_says_what_to_do_instead() {
        for (src, says) in [
            ("for f in *; do echo $f; done", "python3"),
            ("sleep 1 &", "background"),
            ("echo 'open", "unterminated single quote"),
            ("echo \"open", "unterminated double quote"),
            ("cat <<EOF", "here-documents"),
            ("echo $((1+2))", "arithmetic"),
            ("| wc", "expected a command"),
            ("ls >", "needs a file name"),
            ("(cd a; ls)", "subshells"),
        ] {
            let e = parse(src).unwrap_err();
            assert!(e.0.contains(says), "{src}: {e}");
        }
    }

    #[test]
    fn deep_substitutions_are_refused_not_overflowed() {
        let src = "echo ".to_string() + &"$(echo ".repeat(50) + &")".repeat(50);
        assert!(parse(&src).unwrap_err().0.contains("nest deeper"));
        assert!(parse(&"x".repeat(MAX_SCRIPT + 1)).is_err());
    }
}
