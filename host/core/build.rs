//! Compiles the Hermes harness component that the host embeds (`HERMES_HARNESS_WASM`).

fn main() {
    // Read at run time, not with env!(): a build-script binary compiled in another
    // checkout of the same sources may be reused from a shared target dir.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let root = std::path::Path::new(&manifest_dir).join("../..");
    let built = hermes_guest_build::build_components(&root, &["hermes-harness"])
        .unwrap_or_else(|e| panic!("building the harness component: {e}"));
    println!("cargo:rustc-env=HERMES_HARNESS_WASM={}", built[0].display());
}
