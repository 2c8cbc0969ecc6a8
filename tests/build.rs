//! Builds the test guests (components used by the sandbox tests and benchmarks).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Read at run time, not with env!(): a build-script binary compiled in another
    // checkout of the same sources may be reused from a shared target dir.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let root = std::path::Path::new(&manifest_dir).join("..");
    let built = hermes_guest_build::build_components(&root, &["hermes-test-guest", "hermes-bench-guest"])
        .unwrap_or_else(|e| panic!("building test guests: {e}"));
    println!("cargo:rustc-env=HERMES_TEST_GUEST_WASM={}", built[0].display());
    println!("cargo:rustc-env=HERMES_BENCH_GUEST_WASM={}", built[1].display());
    // The plugin guests build in their own set: adding them to the one above would
    // rebuild it, and they share nothing with the harness.
    let plugins = [
        "hermes-test-plugin",
        "hermes-test-plugin-stuck",
        "hermes-test-command",
        "hermes-example-tool-plugin",
        "hermes-test-plugin-fetch",
    ];
    let built =
        hermes_guest_build::build_components(&root, &plugins).unwrap_or_else(|e| panic!("building test plugins: {e}"));
    for (var, path) in [
        "HERMES_TEST_PLUGIN_WASM",
        "HERMES_STUCK_PLUGIN_WASM",
        "HERMES_COMMAND_WASM",
        "HERMES_EXAMPLE_PLUGIN_WASM",
        "HERMES_FETCH_PLUGIN_WASM",
    ]
    .iter()
    .zip(&built)
    {
        println!("cargo:rustc-env={var}={}", path.display());
    }
}
