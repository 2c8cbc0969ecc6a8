//! The built-in Hermes harness, compiled to a component by `build.rs`.

/// The `hermes` runtime's component bytes.
pub static HERMES_HARNESS: &[u8] = include_bytes!(env!("HERMES_HARNESS_WASM"));

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_harness_declares_its_tools_in_its_component() {
        let tools = hermes_runtime::builtin_tools(super::HERMES_HARNESS);
        for expected in ["read_file", "write_file", "edit_file", "list_files", "search_files", "skill_view"] {
            assert!(tools.iter().any(|t| t == expected), "{expected} missing from {tools:?}");
        }
    }
}
