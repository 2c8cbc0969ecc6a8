//! A tool plugin whose `list-tools` loops forever: the host must refuse the upload
//! within its `list-tools` budget and keep serving.

use hermes_guest::tool_plugin::exports::hermes::agent::tool::Guest;
use hermes_guest::{ToolDefinition, ToolOutput};

/// The plugin.
pub struct Stuck;

impl Guest for Stuck {
    fn list_tools() -> Vec<ToolDefinition> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn call_tool(_name: String, _arguments: String) -> Result<ToolOutput, String> {
        Err("never listed".into())
    }
}

hermes_guest::export_tool_plugin!(Stuck);
