//! The built-in Hermes harness, compiled to a component by `build.rs`.

/// The `hermes` runtime's component bytes.
pub static HERMES_HARNESS: &[u8] = include_bytes!(env!("HERMES_HARNESS_WASM"));
