//! Black-box tests of Hermes Host, and the doubles they run against: [`mock_llm`], a
//! local model server speaking the OpenAI and Anthropic wire formats.

pub mod mock_llm;
pub mod stats;

/// Paths of the guest components built for the tests (by `tests/build.rs`).
pub mod guests {
    /// The misbehaving harness (`tests/guests`).
    pub const TEST_HARNESS: &str = env!("HERMES_TEST_GUEST_WASM");
    /// The test tool plugin (`tests/plugin-guests/good`).
    pub const TEST_PLUGIN: &str = env!("HERMES_TEST_PLUGIN_WASM");
    /// A tool plugin whose `list-tools` never returns.
    pub const STUCK_PLUGIN: &str = env!("HERMES_STUCK_PLUGIN_WASM");
    /// A WASI command component (not a Hermes world).
    pub const COMMAND: &str = env!("HERMES_COMMAND_WASM");
    /// `examples/tool-plugin`, as a vendor builds it.
    pub const EXAMPLE_PLUGIN: &str = env!("HERMES_EXAMPLE_PLUGIN_WASM");
    /// A tool plugin making outgoing HTTP requests (`tests/plugin-guests/fetch`).
    pub const FETCH_PLUGIN: &str = env!("HERMES_FETCH_PLUGIN_WASM");
}
