//! A tool plugin for the plugin tests. It declares `workspace:read-write` in its
//! manifest section; what it can reach is whatever the deployment grants.
//!
//! | tool | does |
//! |---|---|
//! | `echo {text}` | answers `echo: <text>` |
//! | `read {path}` | reads a file under `/workspace` |
//! | `write {path, text}` | writes a file under `/workspace` |
//! | `spin` | loops forever (deadline) |
//! | `hoard` | allocates without bound (memory limit) |
//! | `panic` | panics (a trap) |
//! | `huge` | answers 3 MiB (output cap) |

use hermes_guest::tool_plugin::exports::hermes::agent::tool::Guest;
use hermes_guest::{ToolDefinition, ToolOutput, parse_args};
use serde::Deserialize;
use serde_json::json;

hermes_guest::plugin_manifest!(r#"{"version": "1.0.0", "capabilities": ["workspace:read-write"]}"#);

/// The plugin.
pub struct TestPlugin;

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
struct PathArg {
    path: String,
}

#[derive(Deserialize)]
struct WriteArgs {
    path: String,
    text: String,
}

fn tool(name: &str, description: &str, properties: serde_json::Value) -> ToolDefinition {
    ToolDefinition::new(name, description, json!({"type": "object", "properties": properties}))
}

impl Guest for TestPlugin {
    fn list_tools() -> Vec<ToolDefinition> {
        vec![
            tool("echo", "Echo a text back.", json!({"text": {"type": "string"}})),
            tool("read", "Read a workspace file.", json!({"path": {"type": "string"}})),
            tool("write", "Write a workspace file.", json!({"path": {"type": "string"}, "text": {"type": "string"}})),
            tool("spin", "Loop forever.", json!({})),
            tool("hoard", "Allocate without bound.", json!({})),
            tool("panic", "Panic.", json!({})),
            tool("huge", "Answer 3 MiB.", json!({})),
        ]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, String> {
        Ok(match name.as_str() {
            "echo" => match parse_args::<Text>(&arguments) {
                Ok(a) => ToolOutput::ok(format!("echo: {}", a.text)),
                Err(e) => ToolOutput::err(e),
            },
            "read" => match parse_args::<PathArg>(&arguments) {
                Ok(a) => match std::fs::read_to_string(format!("/workspace/{}", a.path)) {
                    Ok(text) => ToolOutput::ok(text),
                    Err(e) => ToolOutput::err(format!("cannot read {}: {e}", a.path)),
                },
                Err(e) => ToolOutput::err(e),
            },
            "write" => match parse_args::<WriteArgs>(&arguments) {
                Ok(a) => match std::fs::write(format!("/workspace/{}", a.path), a.text) {
                    Ok(()) => ToolOutput::ok("written"),
                    Err(e) => ToolOutput::err(format!("cannot write {}: {e}", a.path)),
                },
                Err(e) => ToolOutput::err(e),
            },
            "spin" => spin(),
            "hoard" => hoard(),
            "panic" => panic!("the test plugin panics on request"),
            "huge" => ToolOutput::ok("x".repeat(3 << 20)),
            other => return Err(format!("unknown tool `{other}`")),
        })
    }
}

#[allow(clippy::empty_loop)]
fn spin() -> ToolOutput {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn hoard() -> ToolOutput {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&blocks);
    }
}

hermes_guest::export_tool_plugin!(TestPlugin);
