//! The built-in tools, each in its own module, and the dispatch of a model's tool call
//! to a built-in or an MCP tool.
//!
//! A tool never fails the run: every problem (bad arguments, a missing file, an
//! escaping path, an MCP error) becomes an `is_error` [`ToolOutput`] the model reads.

pub mod ask_human;
mod automations;
mod edit_file;
mod list_files;
mod memory;
mod read_file;
mod search_files;
mod skill_view;
pub mod subagents;
mod todo;
mod workspace;
mod write_file;

pub use workspace::Workspace;

use hermes_guest::{ToolCall, ToolDefinition, ToolOutput};

use crate::imports::{Features, Imports};

/// Largest tool result handed back to the model, in bytes; longer ones are cut.
pub const MAX_OUTPUT_BYTES: usize = 48 * 1024;

/// A built-in tool: its definition (terse: it is sent on every turn) and its code.
struct Builtin {
    name: &'static str,
    description: &'static str,
    /// JSON Schema of the arguments object, as sent to the model.
    parameters: &'static str,
    run: fn(&mut dyn Imports, &Workspace, &str) -> Result<String, String>,
    /// Whether the deployment's features offer this tool (e.g. memory tools only with
    /// `features.memory`); a tool not offered is also refused when called.
    offered: fn(&Features) -> bool,
}

/// For tools every deployment has.
fn always(_: &Features) -> bool {
    true
}

const BUILTINS: &[Builtin] = &[
    read_file::TOOL,
    write_file::TOOL,
    edit_file::TOOL,
    list_files::TOOL,
    search_files::TOOL,
    skill_view::TOOL,
    todo::TOOL,
    memory::ADD,
    memory::SEARCH,
    memory::FORGET,
    ask_human::TOOL,
    subagents::TOOL,
    automations::CREATE,
    automations::LIST,
    automations::PAUSE,
    automations::RESUME,
    automations::DELETE,
];

/// Bytes of the tools section: every name and a newline after each.
#[cfg(any(test, all(target_arch = "wasm32", feature = "component")))]
const NAMES_LEN: usize = {
    let (mut n, mut i) = (0, 0);
    while i < BUILTINS.len() {
        n += BUILTINS[i].name.len() + 1;
        i += 1;
    }
    n
};

/// The built-in tool names, newline-separated, computed at compile time.
#[cfg(any(test, all(target_arch = "wasm32", feature = "component")))]
const fn names_section() -> [u8; NAMES_LEN] {
    let mut out = [0u8; NAMES_LEN];
    let (mut at, mut i) = (0, 0);
    while i < BUILTINS.len() {
        let name = BUILTINS[i].name.as_bytes();
        let mut j = 0;
        while j < name.len() {
            out[at] = name[j];
            at += 1;
            j += 1;
        }
        out[at] = b'\n';
        at += 1;
        i += 1;
    }
    out
}

/// The names of the built-in tools as a custom section of the component, so a host
/// lists a harness's tools from its bytes (the Tools API) without linking this crate.
#[cfg(all(target_arch = "wasm32", feature = "component"))]
#[unsafe(link_section = "hermes:builtin-tools")]
#[used]
static BUILTIN_TOOLS_SECTION: [u8; NAMES_LEN] = names_section();

/// Names of every built-in tool.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}

/// The built-in tools offered to the model under `features`, minus the `disabled` ones.
pub fn builtin_definitions(features: &Features, disabled: &[String]) -> Vec<ToolDefinition> {
    BUILTINS
        .iter()
        .filter(|b| (b.offered)(features) && !disabled.iter().any(|d| d == b.name))
        .map(|b| ToolDefinition {
            name: b.name.to_string(),
            description: b.description.to_string(),
            parameters: b.parameters.to_string(),
        })
        .collect()
}

/// Runs one tool call: a built-in over `workspace`, else an MCP tool through the host.
pub fn execute(
    host: &mut dyn Imports,
    workspace: &Workspace,
    features: &Features,
    disabled: &[String],
    call: &ToolCall,
) -> ToolOutput {
    let builtin = BUILTINS.iter().find(|b| b.name == call.name);
    let output = if disabled.contains(&call.name) {
        ToolOutput::err(format!("tool `{}` is disabled for this deployment", call.name))
    } else if let Some(builtin) = builtin.filter(|b| !(b.offered)(features)) {
        ToolOutput::err(format!("tool `{}` is not enabled for this deployment (see its features)", builtin.name))
    } else if let Some(builtin) = builtin {
        (builtin.run)(host, workspace, &call.arguments).into()
    } else {
        let output = host
            .mcp_call(&call.name, &call.arguments)
            .unwrap_or_else(|e| ToolOutput::err(format!("tool `{}` failed: {e}", call.name)));
        spill_large(workspace, call, output)
    };
    ToolOutput { content: truncate(output.content, MAX_OUTPUT_BYTES), is_error: output.is_error }
}

/// Where MCP results too large for the context are saved, relative to the workspace.
pub const TOOL_RESULTS_DIR: &str = ".hermes/tool-results";
/// Bytes of a saved result shown to the model beside its path.
const SPILL_PREVIEW_BYTES: usize = 2048;

/// An MCP result longer than [`MAX_OUTPUT_BYTES`] is written whole to
/// `.hermes/tool-results/<call id>.txt`; the model gets the path and a preview, and
/// can page through the file with `read_file` / `search_files`.
fn spill_large(workspace: &Workspace, call: &ToolCall, output: ToolOutput) -> ToolOutput {
    if output.content.len() <= MAX_OUTPUT_BYTES {
        return output;
    }
    let id: String = call
        .id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(100)
        .collect();
    let relative = format!("{TOOL_RESULTS_DIR}/{id}.txt");
    let saved = workspace.resolve(&relative).and_then(|path| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, &output.content).map_err(|e| e.to_string())
    });
    let total = output.content.len();
    let preview = truncate(output.content, SPILL_PREVIEW_BYTES);
    let content = match saved {
        Ok(()) => format!(
            "The result of `{}` is {total} bytes, too large for the context. It is saved in the workspace at \
             `{relative}` (read it with read_file or search it with search_files). Its beginning:\n{preview}",
            call.name
        ),
        Err(e) => format!(
            "The result of `{}` is {total} bytes and could not be saved ({e}). Its beginning:\n{preview}",
            call.name
        ),
    };
    ToolOutput { content, is_error: output.is_error }
}

/// Cuts `text` to at most `max` bytes (on a char boundary), saying so.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let total = text.len();
    text.truncate(cut);
    text.push_str(&format!("\n[truncated: {cut} of {total} bytes shown]"));
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every feature on.
    pub(crate) fn all_features() -> Features {
        Features { memory: true, dreaming: true, automations: true, steering: true }
    }

    #[test]
    fn the_tools_section_lists_every_builtin_once_per_line() {
        let section = names_section();
        let text = std::str::from_utf8(&section).unwrap();
        assert_eq!(text.lines().collect::<Vec<_>>(), builtin_names().collect::<Vec<_>>());
    }

    #[test]
    fn schemas_are_valid_json_objects() {
        for b in BUILTINS {
            let v: serde_json::Value = serde_json::from_str(b.parameters).unwrap();
            assert_eq!(v["type"], "object", "{}", b.name);
        }
    }

    #[test]
    fn disabled_builtins_are_not_offered() {
        let defs = builtin_definitions(&all_features(), &["write_file".to_string()]);
        assert!(defs.iter().all(|d| d.name != "write_file"));
        assert_eq!(defs.len(), BUILTINS.len() - 1);
    }

    #[test]
    fn disabled_tools_are_refused_even_when_called() {
        let mut host = crate::fake_host::FakeHost::new("run_1", "hi");
        let ws = Workspace::new(std::env::temp_dir());
        for name in ["list_files", "crm__delete"] {
            let call = ToolCall::new("c1", name, "{}");
            let out = execute(&mut host, &ws, &all_features(), &[name.to_string()], &call);
            assert!(out.is_error && out.content.contains("disabled"), "{name}");
        }
    }

    #[test]
    fn the_file_tools_work_together() {
        let root = std::env::temp_dir().join(format!("hermes-tools-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ws = Workspace::new(&root);
        let mut host = crate::fake_host::FakeHost::new("run_1", "hi");
        let features = all_features();
        let mut call =
            |name: &str, args: &str| execute(&mut host, &ws, &features, &[], &ToolCall::new("c", name, args));

        let wrote = call("write_file", r#"{"path":"docs/a.md","content":"hello world\nbye"}"#);
        assert!(!wrote.is_error, "{}", wrote.content);
        assert!(!call("edit_file", r#"{"path":"docs/a.md","old_string":"world","new_string":"there"}"#).is_error);
        assert_eq!(call("read_file", r#"{"path":"docs/a.md"}"#).content, "hello there\nbye\n");
        assert_eq!(call("list_files", r#"{"recursive":true}"#).content, "docs/\ndocs/a.md");
        assert_eq!(call("search_files", r#"{"query":"there"}"#).content, "docs/a.md:1: hello there");
        assert!(call("read_file", r#"{"path":"../x"}"#).is_error);
        assert!(call("list_files", r#"{"path":"/"}"#).is_error);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn search_files_finds_lines_by_literal_or_regex_and_files_by_glob() {
        let root = std::env::temp_dir().join(format!("hermes-search-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("data/2026")).unwrap();
        std::fs::write(root.join("data/2026/jan.csv"), "day,spend\n2026-01-04,120.5\n2026-01-09,80\n").unwrap();
        std::fs::write(root.join("data/notes.md"), "spend went up (a.b)\n").unwrap();
        std::fs::write(root.join("main.py"), "def total(rows):\n    return sum(rows)\n").unwrap();
        let ws = Workspace::new(&root);
        let mut host = crate::fake_host::FakeHost::new("run_1", "hi");
        let features = all_features();
        let mut call =
            |args: &str| execute(&mut host, &ws, &features, &[], &ToolCall::new("c", "search_files", args)).content;
        assert_eq!(call(r#"{"query":"(a.b)"}"#), "data/notes.md:1: spend went up (a.b)", "literal by default");
        assert_eq!(
            call(r#"{"query":"^2026-01-0[49],\\d+","mode":"regex"}"#),
            "data/2026/jan.csv:2: 2026-01-04,120.5\ndata/2026/jan.csv:3: 2026-01-09,80"
        );
        assert_eq!(call(r#"{"query":"spend","include":"**/*.md"}"#), "data/notes.md:1: spend went up (a.b)");
        assert_eq!(call(r#"{"query":"**/*.csv","mode":"glob"}"#), "data/2026/jan.csv (41 bytes)");
        assert_eq!(call(r#"{"query":"*.rs","mode":"glob"}"#), "no files match `*.rs`");
        assert!(call(r#"{"query":"(unclosed","mode":"regex"}"#).contains("invalid regular expression"));
        assert!(call(r#"{"query":"a","mode":"fuzzy"}"#).contains("unknown variant"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn todo_replaces_the_plan_and_streams_it() {
        let mut host = crate::fake_host::FakeHost::new("run_1", "hi");
        let ws = Workspace::new(std::env::temp_dir());
        let args = r#"{"items":[{"content":"read the CSV","status":"done"},{"content":"total it","status":"in_progress"},{"content":"reply","status":"pending"}]}"#;
        let out = execute(&mut host, &ws, &all_features(), &[], &ToolCall::new("c", "todo", args));
        assert_eq!(out.content, "Plan saved (1/3 done):\n[x] read the CSV\n[~] total it\n[ ] reply", "{out:?}");
        assert_eq!(host.emitted.len(), 1);
        assert_eq!(host.emitted[0].0, "todo");
        let data: serde_json::Value = serde_json::from_str(&host.emitted[0].1).unwrap();
        assert_eq!(data["items"][1], serde_json::json!({"content": "total it", "status": "in_progress"}));
        let bad = execute(
            &mut host,
            &ws,
            &all_features(),
            &[],
            &ToolCall::new("c", "todo", r#"{"items":[{"content":"x","status":"maybe"}]}"#),
        );
        assert!(bad.is_error, "{bad:?}");
    }

    #[test]
    fn a_large_mcp_result_is_saved_and_referenced() {
        let root = std::env::temp_dir().join(format!("hermes-spill-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ws = Workspace::new(&root);
        let big = format!("{}TAIL", "x".repeat(MAX_OUTPUT_BYTES * 2));
        let call = ToolCall::new("call/7", "crm__export", "{}");
        let out = spill_large(&ws, &call, ToolOutput { content: big.clone(), is_error: false });
        assert!(
            out.content.contains(".hermes/tool-results/call_7.txt") && out.content.len() < 4096,
            "{}",
            &out.content[..200]
        );
        assert_eq!(std::fs::read_to_string(root.join(".hermes/tool-results/call_7.txt")).unwrap(), big);
        let small = spill_large(&ws, &call, ToolOutput { content: "ok".into(), is_error: true });
        assert_eq!((small.content.as_str(), small.is_error), ("ok", true));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let t = truncate("ééé".to_string(), 3);
        assert!(t.starts_with('é') && t.contains("truncated"));
    }
}
