//! Compiles the Hermes harness component that the host embeds (`HERMES_HARNESS_WASM`).

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = hermes_guest_build::build_components(&root, &["hermes-harness"])
        .unwrap_or_else(|e| panic!("building the harness component: {e}"));
    println!("cargo:rustc-env=HERMES_HARNESS_WASM={}", built[0].display());
}
