//! Full SKILL.md validation: the Agent Skills spec (agentskills.io) plus Hermes Agent's
//! frontmatter extensions, and a check that the Markdown body's relative links stay inside
//! the skill folder.
//!
//! [`validate`] never panics, whatever the input; everything wrong is reported as a
//! [`Problem`]. Errors make a skill invalid, warnings never do (unknown frontmatter keys
//! are kept and only warned about).

use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, Parser, Tag};
use serde_yaml::{Mapping, Value};

/// Longest `name`, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest `compatibility`, in characters.
pub const MAX_COMPATIBILITY_CHARS: usize = 500;
/// Largest frontmatter, in bytes (the YAML parser's cost grows quickly with odd input).
pub const MAX_FRONTMATTER_BYTES: usize = 64 * 1024;
/// Deepest `[`/`{` nesting in the frontmatter (counted naively, quotes included). libyaml is
/// quadratic in flow depth, and serde_yaml gives up at 128 levels anyway.
const MAX_FLOW_DEPTH: usize = 256;

/// Values of `platforms` Hermes Agent knows.
const PLATFORMS: &[&str] = &["linux", "macos", "windows"];

/// One thing wrong (or suspicious) in a SKILL.md.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where: a frontmatter key path (`"name"`, `"metadata.author"`), `"body"`, or `None`
    /// for the file as a whole.
    pub field: Option<String>,
    /// What, in words.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The outcome of validating one SKILL.md.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The frontmatter `name`, when it is a string (valid or not).
    pub name: Option<String>,
    /// The frontmatter `description`, when it is a string (valid or not).
    pub description: Option<String>,
    /// Problems that make the skill invalid.
    pub errors: Vec<Problem>,
    /// Problems worth reporting that do not make the skill invalid.
    pub warnings: Vec<Problem>,
}

impl Report {
    /// Whether the skill is valid (no errors; warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.errors.push(Problem { field: field.map(str::to_owned), message: message.into() });
    }

    fn warn(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.warnings.push(Problem { field: field.map(str::to_owned), message: message.into() });
    }
}

/// A relative link or image target found in the body (already known not to escape
/// lexically), kept so [`validate_dir`] can check it against the file system.
struct LocalTarget {
    line: usize,
    raw: String,
    path: String,
}

/// The name a SKILL.md is checked against.
#[derive(Clone, Copy, Debug)]
pub enum Expected<'a> {
    /// The name a request gave (an `inline` or `url` skill): a different `name` is an error.
    Exactly(&'a str),
    /// The name of the folder (or declaration) it was found under: a different `name` is
    /// a warning, since Hermes Agent loads such skills (several of its bundled ones are).
    Folder(&'a str),
}

/// Validates the text of a SKILL.md. `expected_name`, when given, is the name the skill
/// must have (the name a request asked for).
pub fn validate(text: &str, expected_name: Option<&str>) -> Report {
    validate_inner(text, expected_name.map(Expected::Exactly)).0
}

/// Validates the text of a SKILL.md against the name it was found under (see [`Expected`]).
pub fn validate_as(text: &str, expected: Expected<'_>) -> Report {
    validate_inner(text, Some(expected)).0
}

/// Validates `<skill_dir>/SKILL.md`: its name should equal the folder's name (a warning
/// when not), and relative links in the body must resolve inside the folder (symlinks
/// included).
pub fn validate_dir(skill_dir: &Path) -> Report {
    let file = skill_dir.join("SKILL.md");
    let lower = skill_dir.join("skill.md");
    if !file.is_file() && lower.is_file() {
        let mut report = validate_file_in(&lower, skill_dir, true);
        report.warn(None, "the file should be named `SKILL.md` (found `skill.md`)");
        return report;
    }
    validate_file_in(&file, skill_dir, true)
}

/// Validates a file given directly: a `SKILL.md` is checked as its folder's skill (so the
/// name must match the folder); any other file only against its own content.
fn validate_file(file: &Path) -> Report {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let is_skill_md = file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.eq_ignore_ascii_case("SKILL.md"));
    validate_file_in(file, &dir, is_skill_md)
}

fn validate_file_in(file: &Path, dir: &Path, name_from_dir: bool) -> Report {
    let text = match std::fs::read(file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                let mut report = Report::default();
                report.error(None, format!("{} is not valid UTF-8", file.display()));
                return report;
            }
        },
        Err(e) => {
            let mut report = Report::default();
            report.error(None, format!("cannot read {}: {e}", file.display()));
            return report;
        }
    };
    let canonical_dir = std::fs::canonicalize(dir).ok();
    let dir_name = if name_from_dir {
        // The folder's own name as given (like the reference validator); for `.` and the
        // like, the name of the folder it resolves to.
        match dir.file_name().or_else(|| canonical_dir.as_deref().and_then(Path::file_name)) {
            Some(n) => match n.to_str() {
                Some(n) => Some(n.to_owned()),
                None => {
                    let mut report = Report::default();
                    report.error(None, format!("the folder name of {} is not valid UTF-8", dir.display()));
                    return report;
                }
            },
            None => None,
        }
    } else {
        None
    };
    let (mut report, targets) = validate_inner(&text, dir_name.as_deref().map(Expected::Folder));
    if let Some(root) = canonical_dir {
        for target in targets {
            let path = root.join(&target.path);
            match std::fs::canonicalize(&path) {
                Ok(real) if !real.starts_with(&root) => report.error(
                    Some("body"),
                    format!("line {}: link target `{}` resolves outside the skill folder", target.line, target.raw),
                ),
                Ok(_) => {}
                Err(_) => report.warn(
                    Some("body"),
                    format!("line {}: link target `{}` does not exist in the skill folder", target.line, target.raw),
                ),
            }
        }
    }
    report
}

/// Validates each path (a skill folder or a SKILL.md file), printing one line per problem
/// (`PATH: error: field: message`, `PATH: warning: …`) or `PATH: ok` for a clean skill.
/// Returns the process exit code: 0 when all are valid, else 1.
pub fn cli(paths: &[PathBuf]) -> i32 {
    let mut all_valid = true;
    for path in paths {
        let report = if path.is_dir() { validate_dir(path) } else { validate_file(path) };
        let shown = path.display();
        for problem in &report.errors {
            println!("{shown}: error: {problem}");
        }
        for problem in &report.warnings {
            println!("{shown}: warning: {problem}");
        }
        if report.errors.is_empty() && report.warnings.is_empty() {
            println!("{shown}: ok");
        }
        all_valid &= report.is_valid();
    }
    if all_valid { 0 } else { 1 }
}

/// Splits off the frontmatter: the first line must be `---`, and the frontmatter ends at
/// the next line that is `---` (or `...`). Returns (frontmatter, body, body's first line).
pub(crate) fn split_frontmatter(text: &str) -> Result<(&str, &str, usize), &'static str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err("missing YAML frontmatter: the file must start with a `---` line");
    }
    let start = first.len();
    let mut offset = start;
    for (i, line) in lines.enumerate() {
        let bare = line.trim_end();
        if bare == "---" || bare == "..." {
            let body = text.get(offset + line.len()..).unwrap_or("");
            let frontmatter = text.get(start..offset).unwrap_or("");
            // Line numbers are 1-based: line 1 is the opening `---`, line i + 2 the closing one.
            return Ok((frontmatter, body, i + 3));
        }
        offset += line.len();
    }
    Err("unterminated YAML frontmatter: no closing `---` line")
}

fn validate_inner(text: &str, expected_name: Option<Expected<'_>>) -> (Report, Vec<LocalTarget>) {
    let mut report = Report::default();
    let (frontmatter, body, body_line) = match split_frontmatter(text) {
        Ok(parts) => parts,
        Err(message) => {
            report.error(None, message);
            return (report, Vec::new());
        }
    };
    if let Err(message) = check_frontmatter_size(frontmatter) {
        report.error(None, message);
        let targets = check_body(body, body_line, &mut report);
        return (report, targets);
    }
    match serde_yaml::from_str::<Value>(frontmatter) {
        Ok(Value::Mapping(map)) => check_frontmatter(&map, expected_name, &mut report),
        Ok(Value::Null) => report.error(None, "the frontmatter is empty (it needs `name` and `description`)"),
        Ok(other) => report.error(None, format!("the frontmatter must be a YAML mapping, not {}", kind(&other))),
        Err(e) => report.error(None, format!("invalid YAML in the frontmatter: {e}")),
    }
    let targets = check_body(body, body_line, &mut report);
    (report, targets)
}

/// Refuses frontmatter too big or too deeply nested to hand to the YAML parser (whose
/// running time on such input grows quadratically).
pub(crate) fn check_frontmatter_size(frontmatter: &str) -> Result<(), String> {
    if frontmatter.len() > MAX_FRONTMATTER_BYTES {
        return Err(format!(
            "the frontmatter is {} bytes long; the limit is {MAX_FRONTMATTER_BYTES}",
            frontmatter.len()
        ));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    for b in frontmatter.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_FLOW_DEPTH {
        return Err(format!("the frontmatter nests `[`/`{{` more than {MAX_FLOW_DEPTH} levels deep"));
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A scalar as text: strings as they are; numbers and booleans as YAML would print them
/// (`Some(.., true)` flags that coercion).
fn scalar_text(value: &Value) -> Option<(String, bool)> {
    match value {
        Value::String(s) => Some((s.clone(), false)),
        Value::Number(n) => Some((n.to_string(), true)),
        Value::Bool(b) => Some((b.to_string(), true)),
        _ => None,
    }
}

fn key_text(key: &Value) -> String {
    match scalar_text(key) {
        Some((s, _)) => s,
        None => match serde_yaml::to_string(key) {
            Ok(s) => s.trim().to_owned(),
            Err(_) => kind(key).to_owned(),
        },
    }
}

fn check_frontmatter(map: &Mapping, expected_name: Option<Expected<'_>>, report: &mut Report) {
    for (key, value) in map {
        let key = key_text(key);
        match key.as_str() {
            "name" => check_name(value, expected_name, report),
            "description" => check_description(value, report),
            "license" => {
                if !matches!(value, Value::String(_)) {
                    report.warn(Some("license"), format!("should be a string, not {}", kind(value)));
                }
            }
            "compatibility" => check_compatibility(value, report),
            "metadata" => check_metadata(value, report),
            "allowed-tools" => check_allowed_tools(value, report),
            "version" => {
                if !matches!(value, Value::String(_) | Value::Number(_)) {
                    report.warn(Some("version"), format!("should be a string, not {}", kind(value)));
                }
            }
            "author" => {
                if !matches!(value, Value::String(_)) {
                    report.warn(Some("author"), format!("should be a string, not {}", kind(value)));
                }
            }
            "platforms" => check_platforms(value, report),
            "required_environment_variables" => check_env_vars(value, report),
            "prerequisites" => {
                if !matches!(value, Value::Mapping(_) | Value::Sequence(_) | Value::Null) {
                    report.warn(Some("prerequisites"), format!("should be a mapping, not {}", kind(value)));
                }
            }
            other => report.warn(
                Some(other),
                "unknown frontmatter field (kept; not part of the Agent Skills spec or Hermes Agent's extensions)",
            ),
        }
    }
    if !map.contains_key("name") {
        report.error(Some("name"), "required field is missing");
    }
    if !map.contains_key("description") {
        report.error(Some("description"), "required field is missing");
    }
}

fn check_name(value: &Value, expected_name: Option<Expected<'_>>, report: &mut Report) {
    let field = Some("name");
    let Some((name, coerced)) = scalar_text(value) else {
        report.error(field, format!("must be a string, not {}", kind(value)));
        return;
    };
    if coerced {
        report.warn(field, format!("should be a string, not {} (read as `{name}`)", kind(value)));
    }
    report.name = Some(name.clone());
    if name.is_empty() {
        report.error(field, "must not be empty");
        return;
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        report.error(field, format!("is {chars} characters long; the limit is {MAX_NAME_CHARS}"));
    }
    if name.chars().any(|c| c.is_uppercase()) {
        report.error(field, format!("`{name}` must be lowercase"));
    }
    if name.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '-')) {
        report.error(field, format!("`{name}` may contain only a-z, 0-9 and `-`"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        report.error(field, "must not start or end with `-`");
    }
    if name.contains("--") {
        report.error(field, "must not contain `--`");
    }
    match expected_name {
        Some(Expected::Exactly(expected)) if expected != name => {
            report.error(field, format!("`{name}` does not match the expected name `{expected}`"))
        }
        Some(Expected::Folder(folder)) if folder != name => report.warn(
            field,
            format!("`{name}` differs from `{folder}`, the name of its folder or declaration; the skill is known as `{folder}`"),
        ),
        _ => {}
    }
}

fn check_description(value: &Value, report: &mut Report) {
    let field = Some("description");
    let Some((description, coerced)) = scalar_text(value) else {
        report.error(field, format!("must be a non-empty string, not {}", kind(value)));
        return;
    };
    if coerced {
        report.warn(field, format!("should be a string, not {}", kind(value)));
    }
    report.description = Some(description.clone());
    if description.trim().is_empty() {
        report.error(field, "must not be empty");
        return;
    }
    let chars = description.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        report.error(field, format!("is {chars} characters long; the limit is {MAX_DESCRIPTION_CHARS}"));
    }
}

fn check_compatibility(value: &Value, report: &mut Report) {
    let field = Some("compatibility");
    let Value::String(text) = value else {
        report.error(field, format!("must be a string, not {}", kind(value)));
        return;
    };
    let chars = text.chars().count();
    if chars > MAX_COMPATIBILITY_CHARS {
        report.error(field, format!("is {chars} characters long; the limit is {MAX_COMPATIBILITY_CHARS}"));
    } else if text.trim().is_empty() {
        report.warn(field, "is empty (omit it instead)");
    }
}

fn check_metadata(value: &Value, report: &mut Report) {
    let map = match value {
        Value::Mapping(map) => map,
        Value::Null => return,
        other => {
            report.error(Some("metadata"), format!("must be a mapping of strings to strings, not {}", kind(other)));
            return;
        }
    };
    for (key, value) in map {
        let key = key_text(key);
        let field = format!("metadata.{key}");
        if key == "hermes" {
            // Hermes Agent's extension: a nested mapping (tags, category, config, …).
            if !matches!(value, Value::Mapping(_)) {
                report.warn(Some(&field), format!("Hermes Agent expects a mapping here, not {}", kind(value)));
            }
            continue;
        }
        match value {
            Value::String(_) => {}
            Value::Number(_) | Value::Bool(_) | Value::Null => {
                report.warn(Some(&field), format!("should be a string, not {}", kind(value)));
            }
            other => report.error(Some(&field), format!("must be a string, not {}", kind(other))),
        }
    }
}

fn check_allowed_tools(value: &Value, report: &mut Report) {
    let field = Some("allowed-tools");
    match value {
        Value::String(_) => {}
        Value::Sequence(items) => {
            if items.iter().all(|item| matches!(item, Value::String(_))) {
                report.warn(field, "is a list; the Agent Skills spec defines a space-delimited string");
            } else {
                report.error(field, "must be a string or a list of strings");
            }
        }
        other => report.error(field, format!("must be a string or a list of strings, not {}", kind(other))),
    }
}

fn check_platforms(value: &Value, report: &mut Report) {
    let field = Some("platforms");
    let items: Vec<&Value> = match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::String(_) => vec![value],
        other => {
            report.warn(field, format!("should be a list of platforms, not {}", kind(other)));
            return;
        }
    };
    for item in items {
        match item {
            Value::String(p) if PLATFORMS.contains(&p.as_str()) => {}
            Value::String(p) => report.warn(field, format!("unknown platform `{p}` (known: linux, macos, windows)")),
            other => report.warn(field, format!("entries should be strings, not {}", kind(other))),
        }
    }
}

fn check_env_vars(value: &Value, report: &mut Report) {
    let field = Some("required_environment_variables");
    let Value::Sequence(items) = value else {
        if !value.is_null() {
            report.warn(field, format!("should be a list, not {}", kind(value)));
        }
        return;
    };
    for item in items {
        match item {
            Value::String(_) => {}
            Value::Mapping(m) if matches!(m.get("name"), Some(Value::String(_))) => {}
            Value::Mapping(_) => report.warn(field, "each entry needs a string `name`"),
            other => report.warn(field, format!("entries should be names or mappings, not {}", kind(other))),
        }
    }
}

/// Checks the Markdown body's links and images; returns the relative targets that stay
/// inside the folder lexically (for a file-system check by the caller).
fn check_body(body: &str, first_line: usize, report: &mut Report) -> Vec<LocalTarget> {
    let mut targets = Vec::new();
    for (event, range) in Parser::new(body).into_offset_iter() {
        let dest = match &event {
            Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. }) => dest_url,
            _ => continue,
        };
        let line = first_line + body.get(..range.start).map_or(0, |before| before.matches('\n').count());
        let raw = dest.to_string();
        match classify_target(&raw) {
            Target::Remote => {}
            Target::Escapes(why) => {
                report.error(Some("body"), format!("line {line}: link target `{raw}` {why}"));
            }
            Target::Local(path) => targets.push(LocalTarget { line, raw, path }),
        }
    }
    targets
}

enum Target {
    /// A URL with a scheme, a pure fragment, or empty: nothing to check.
    Remote,
    /// Leaves the skill folder (why, in words).
    Escapes(&'static str),
    /// A relative path inside the folder (decoded, without query or fragment).
    Local(String),
}

fn classify_target(raw: &str) -> Target {
    let raw = raw.trim();
    if raw.is_empty() || raw.starts_with('#') {
        return Target::Remote;
    }
    let without_fragment = raw.split(['#', '?']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(without_fragment).decode_utf8_lossy().into_owned();
    if let Some(scheme_end) = scheme_len(raw) {
        let scheme = raw.get(..scheme_end).unwrap_or("");
        // `C:\…` / `C:/…`: a Windows drive, not a scheme.
        if scheme.len() == 1 {
            return Target::Escapes("is an absolute path");
        }
        if scheme.eq_ignore_ascii_case("file") {
            return Target::Escapes("is a file: URL (absolute path)");
        }
        return Target::Remote;
    }
    if decoded.starts_with('/') || decoded.starts_with('\\') {
        return Target::Escapes("is an absolute path");
    }
    let mut depth = 0usize;
    for part in decoded.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Target::Escapes("escapes the skill folder"),
            },
            _ => {
                if Path::new(part).components().any(|c| matches!(c, Component::Prefix(_))) {
                    return Target::Escapes("is an absolute path");
                }
                depth += 1;
            }
        }
    }
    if decoded.is_empty() { Target::Remote } else { Target::Local(decoded) }
}

/// The length of a URL scheme at the start of `s` (`http` in `http://…`), if any.
fn scheme_len(s: &str) -> Option<usize> {
    let colon = s.find(':')?;
    let scheme = s.get(..colon)?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(colon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(frontmatter: &str, body: &str) -> String {
        format!("---\n{frontmatter}\n---\n{body}")
    }

    fn fields(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(|p| p.field.clone().unwrap_or_default()).collect()
    }

    #[test]
    fn minimal_skill_is_valid_and_clean() {
        let r = validate(&skill("name: pdf-tools\ndescription: Work with PDFs.", "# PDF\n"), Some("pdf-tools"));
        assert!(r.is_valid(), "{r:?}");
        assert!(r.warnings.is_empty(), "{r:?}");
        assert_eq!(r.name.as_deref(), Some("pdf-tools"));
        assert_eq!(r.description.as_deref(), Some("Work with PDFs."));
    }

    #[test]
    fn hermes_extensions_are_accepted_silently() {
        let fm = "name: gh-pr\ndescription: Review pull requests.\nversion: 1.2.0\nauthor: Hermes Agent\nlicense: MIT\n\
                  platforms: [linux, macos]\nprerequisites:\n  commands: [gh, git]\nmetadata:\n  author: nous\n  hermes:\n    \
                  tags: [github, review]\n    config:\n      - key: gh.org\n        default: nous\n\
                  required_environment_variables:\n  - name: GITHUB_TOKEN\n    prompt: A token\n  - EXTRA_VAR";
        let r = validate(&skill(fm, "body"), None);
        assert!(r.is_valid(), "{r:?}");
        assert!(r.warnings.is_empty(), "{r:?}");
    }

    #[test]
    fn unknown_keys_warn_but_stay_valid() {
        let r = validate(&skill("name: a\ndescription: d\ntags: [x]\ncategory: dev", ""), None);
        assert!(r.is_valid());
        assert_eq!(fields(&r.warnings), ["tags", "category"]);
    }

    #[test]
    fn frontmatter_shape_errors() {
        for text in ["no frontmatter", "", "---\nname: a\ndescription: d\n", "--- \n[1, 2]\n---\n", "---\n---\n"] {
            let r = validate(text, None);
            assert!(!r.is_valid(), "{text:?}");
            assert_eq!(r.errors[0].field, None, "{text:?}");
        }
        let r = validate("---\nname: [unclosed\n---\n", None);
        assert!(r.errors[0].message.contains("invalid YAML"), "{r:?}");
        // BOM and CRLF are fine.
        assert!(validate("\u{feff}---\r\nname: a\r\ndescription: d\r\n---\r\nbody", None).is_valid());
    }

    #[test]
    fn name_rules() {
        let good = ["a", "pdf-tools", "x1-2y", &"a".repeat(64)];
        for name in good {
            let r = validate(&skill(&format!("name: {name}\ndescription: d"), ""), None);
            assert!(r.is_valid(), "{name}: {r:?}");
        }
        let long = "a".repeat(65);
        let bad = ["Pdf", "pdf_tools", "-pdf", "pdf-", "pdf--tools", "pdf tools", "café", "\"\"", long.as_str()];
        for name in bad {
            let r = validate(&skill(&format!("name: {name}\ndescription: d"), ""), None);
            assert!(!r.is_valid(), "{name}");
            assert!(fields(&r.errors).iter().all(|f| f == "name"), "{name}: {r:?}");
        }
        let r = validate(&skill("description: d", ""), None);
        assert_eq!(fields(&r.errors), ["name"]);
        let r = validate(&skill("name: [a]\ndescription: d", ""), None);
        assert_eq!(fields(&r.errors), ["name"]);
    }

    #[test]
    fn expected_name_must_match() {
        let text = skill("name: alpha\ndescription: d", "");
        assert!(validate(&text, Some("alpha")).is_valid());
        let r = validate(&text, Some("beta"));
        assert_eq!(fields(&r.errors), ["name"]);
        assert!(r.errors[0].message.contains("beta"));
    }

    #[test]
    fn description_rules() {
        for fm in ["name: a", "name: a\ndescription:", "name: a\ndescription: '  '", "name: a\ndescription: [x]"] {
            let r = validate(&skill(fm, ""), None);
            assert_eq!(fields(&r.errors), ["description"], "{fm}");
        }
        let ok = format!("name: a\ndescription: {}", "é".repeat(1024));
        assert!(validate(&skill(&ok, ""), None).is_valid());
        let long = format!("name: a\ndescription: {}", "d".repeat(1025));
        assert_eq!(fields(&validate(&skill(&long, ""), None).errors), ["description"]);
        // A number is read as text, with a warning.
        let r = validate(&skill("name: a\ndescription: 42", ""), None);
        assert!(r.is_valid());
        assert_eq!(fields(&r.warnings), ["description"]);
    }

    #[test]
    fn optional_fields() {
        let ok = format!("name: a\ndescription: d\nlicense: MIT\ncompatibility: {}", "c".repeat(500));
        assert!(validate(&skill(&ok, ""), None).is_valid());
        let long = format!("name: a\ndescription: d\ncompatibility: {}", "c".repeat(501));
        assert_eq!(fields(&validate(&skill(&long, ""), None).errors), ["compatibility"]);
        let r = validate(&skill("name: a\ndescription: d\ncompatibility: [x]", ""), None);
        assert_eq!(fields(&r.errors), ["compatibility"]);
        let r = validate(&skill("name: a\ndescription: d\nmetadata: text", ""), None);
        assert_eq!(fields(&r.errors), ["metadata"]);
        let r = validate(&skill("name: a\ndescription: d\nmetadata:\n  author: [x]", ""), None);
        assert_eq!(fields(&r.errors), ["metadata.author"]);
        let r = validate(&skill("name: a\ndescription: d\nmetadata:\n  version: 1.0", ""), None);
        assert!(r.is_valid());
        assert_eq!(fields(&r.warnings), ["metadata.version"]);
        let r = validate(&skill("name: a\ndescription: d\nallowed-tools: Bash(git:*) Read", ""), None);
        assert!(r.is_valid() && r.warnings.is_empty());
        let r = validate(&skill("name: a\ndescription: d\nallowed-tools: [Bash, Read]", ""), None);
        assert!(r.is_valid());
        assert_eq!(fields(&r.warnings), ["allowed-tools"]);
        let r = validate(&skill("name: a\ndescription: d\nallowed-tools: {a: b}", ""), None);
        assert_eq!(fields(&r.errors), ["allowed-tools"]);
    }

    #[test]
    fn body_links() {
        let ok = "[a](references/a.md) ![i](./img/x.png) [u](https://x.dev/a) [m](mailto:a@b.c) [f](#usage) \
                  [q](scripts/run.sh?x=1#y) [up-and-back](scripts/../README.md) [ref]\n\n[ref]: docs/ref.md\n";
        let r = validate(&skill("name: a\ndescription: d", ok), None);
        assert!(r.is_valid(), "{r:?}");
        for bad in [
            "[x](../other/SKILL.md)",
            "![x](/etc/passwd)",
            "[x](scripts/../../x)",
            "[x](%2e%2e/x)",
            "[x](..\\x)",
            "[x](C:\\Windows)",
            "[x](file:///etc/passwd)",
            "[x][r]\n\n[r]: ../r.md",
        ] {
            let r = validate(&skill("name: a\ndescription: d", &format!("text\n\n{bad}\n")), None);
            assert_eq!(fields(&r.errors), ["body"], "{bad}");
            assert!(r.errors[0].message.starts_with("line 7:"), "{bad}: {r:?}");
        }
    }

    #[test]
    fn validate_dir_checks_folder_name_and_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("my-skill");
        std::fs::create_dir_all(dir.join("references")).unwrap();
        std::fs::write(dir.join("references/a.md"), "a").unwrap();
        let body = "[a](references/a.md) [missing](references/b.md)";
        std::fs::write(dir.join("SKILL.md"), skill("name: my-skill\ndescription: d", body)).unwrap();
        let r = validate_dir(&dir);
        assert!(r.is_valid(), "{r:?}");
        assert_eq!(fields(&r.warnings), ["body"]);

        // A name other than the folder's is loaded (as Hermes Agent does), with a warning.
        std::fs::write(dir.join("SKILL.md"), skill("name: other\ndescription: d", "")).unwrap();
        let r = validate_dir(&dir);
        assert!(r.is_valid(), "{r:?}");
        assert_eq!(fields(&r.warnings), ["name"]);
        assert!(r.warnings[0].message.contains("my-skill"), "{r:?}");

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.path(), dir.join("up")).unwrap();
            std::fs::write(dir.join("SKILL.md"), skill("name: my-skill\ndescription: d", "[x](up/y)")).unwrap();
            std::fs::write(root.path().join("y"), "y").unwrap();
            assert_eq!(fields(&validate_dir(&dir).errors), ["body"]);
        }

        let r = validate_dir(&root.path().join("nope"));
        assert!(!r.is_valid());
        assert_eq!(cli(&[dir.join("SKILL.md"), root.path().join("nope")]), 1);
    }

    #[test]
    fn pathological_inputs_are_errors_not_panics() {
        let started = std::time::Instant::now();
        for nesting in ["[", "{", "- ", "a: "] {
            let deep = format!("---\nname: {}\ndescription: d\n---\n", nesting.repeat(100_000));
            assert!(!validate(&deep, None).is_valid(), "{nesting}");
            let deep = format!("---\nname: {}\ndescription: d\n---\n", nesting.repeat(255));
            assert!(!validate(&deep, None).is_valid(), "{nesting}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        let mut laughs = String::from("---\nname: a\ndescription: d\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            laughs.push_str(&format!("l{i}: &l{i} [*l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}]\n"));
        }
        laughs.push_str("---\n");
        assert!(!validate(&laughs, None).is_valid());
        let body = format!("---\nname: a\ndescription: d\n---\n{}", "> [x](../y)\n".repeat(10_000));
        assert!(!validate(&body, None).is_valid());
        assert!(!validate("---\n\0\u{7}\n---\n", None).is_valid());
    }

    mod props {
        use super::super::validate;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_on_any_string(s in any::<String>()) {
                let _ = validate(&s, None);
                let _ = validate(&s, Some("x"));
            }

            #[test]
            fn name_rules_match_valid_name(name in "[a-zA-Z0-9_ é-]{0,70}") {
                let text = format!("---\nname: '{name}'\ndescription: d\n---\n");
                let report = validate(&text, None);
                let name_ok = !report.errors.iter().any(|p| p.field.as_deref() == Some("name"));
                prop_assert_eq!(name_ok, crate::skills::valid_name(&name), "{:?}", report);
            }

            #[test]
            fn never_panics_on_frontmatter_shaped_input(
                fm in "([a-z_-]{0,12}: ?(\\[|\\{|\\||>|'|\"|&a |\\*a|!!str |-|[ -~]){0,20}\n(  -? ?[ -~]{0,20}\n){0,3}){0,8}",
                body in "([\\[\\]()!#:/.\\\\%a-z0-9 \n-]){0,120}",
                crlf in any::<bool>(),
            ) {
                let nl = if crlf { "\r\n" } else { "\n" };
                let text = format!("---{nl}{fm}{nl}---{nl}{body}");
                let report = validate(&text, Some("a"));
                if report.is_valid() {
                    prop_assert!(report.name.is_some());
                    prop_assert!(report.description.is_some());
                }
            }
        }
    }
}
