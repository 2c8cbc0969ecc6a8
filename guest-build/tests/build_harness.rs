//! End to end: compiles the real harness component (slow; run with `--ignored`).

use std::path::Path;

#[test]
#[ignore = "compiles the harness for wasm32-wasip2 (slow)"]
fn builds_the_harness_component() {
    let root = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("..");
    let built = hermes_guest_build::build_components(&root, &["hermes-harness"]).unwrap();
    assert_eq!(built.len(), 1);
    assert!(built[0].ends_with("wasm-guests/hermes-harness/wasm32-wasip2/release/hermes_harness.wasm"), "{built:?}");
    let bytes = std::fs::read(&built[0]).unwrap();
    // A component's preamble: magic, then layer 1 (component) version 0x0d.
    assert_eq!(&bytes[..8], b"\0asm\x0d\x00\x01\x00");
}

#[test]
fn an_unknown_package_is_a_clear_error() {
    let root = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("..");
    let err = hermes_guest_build::build_components(&root, &["no-such-guest"]).unwrap_err();
    assert!(err.contains("no-such-guest"), "{err}");
}
