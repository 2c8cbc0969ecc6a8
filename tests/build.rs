//! Builds the test guests (components used by the sandbox tests and benchmarks).

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = hermes_guest_build::build_components(&root, &["hermes-test-guest", "hermes-bench-guest"])
        .unwrap_or_else(|e| panic!("building test guests: {e}"));
    println!("cargo:rustc-env=HERMES_TEST_GUEST_WASM={}", built[0].display());
    println!("cargo:rustc-env=HERMES_BENCH_GUEST_WASM={}", built[1].display());
}
