//! Builds the sandbox's programs, each a WASI command component embedded in the
//! host: uutils coreutils, sed and diffutils (published crates, `cargo install`ed
//! for wasm32-wasip2), the sandbox's own utilities (`sandbox/utils`), and CPython
//! (`sandbox/python`, with componentize-py from PyPI). Each is built once per target
//! directory; later builds find it and skip the work.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The coreutils the sandbox ships (uutils 0.12 builds these for WASI).
const COREUTILS: &[&str] = &[
    "base64",
    "basename",
    "cat",
    "comm",
    "cp",
    "cut",
    "date",
    "dirname",
    "echo",
    "expand",
    "fold",
    "head",
    "join",
    "ls",
    "md5sum",
    "mkdir",
    "mktemp",
    "mv",
    "nl",
    "od",
    "paste",
    "printenv",
    "printf",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "seq",
    "sha1sum",
    "sha256sum",
    "shuf",
    "sleep",
    "sort",
    "split",
    "tail",
    "tee",
    "test",
    "touch",
    "tr",
    "truncate",
    "uniq",
    "unexpand",
    "wc",
    "fmt",
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let root = Path::new(&manifest_dir).join("../..");
    let fail = |what: &str, e: String| -> ! { panic!("building the sandbox's {what}: {e}") };
    let utils = hermes_guest_build::build_components(&root, &["hermes-sandbox-utils"])
        .unwrap_or_else(|e| fail("utilities", e))
        .remove(0);
    let coreutils = hermes_guest_build::install_crate(&root, "coreutils", "0.12.0", COREUTILS, "coreutils")
        .unwrap_or_else(|e| fail("coreutils", e));
    let sed = hermes_guest_build::install_crate(&root, "sed", "0.3.0", &[], "sed").unwrap_or_else(|e| fail("sed", e));
    let diff = hermes_guest_build::install_crate(&root, "diffutils", "0.6.0", &[], "diffutils")
        .unwrap_or_else(|e| fail("diffutils", e));
    let python = python(&root).unwrap_or_else(|e| fail("python3", e));
    for (name, path) in
        [("COREUTILS", &coreutils), ("UTILS", &utils), ("SED", &sed), ("DIFF", &diff), ("PYTHON", &python)]
    {
        // The content hash keys the compiled-code cache; computed here once, not at
        // every host start (hashing CPython's 37 MB costs more than loading it).
        let bytes = std::fs::read(path).unwrap_or_else(|e| fail(name, format!("{}: {e}", path.display())));
        println!("cargo:rustc-env=HERMES_SANDBOX_{name}={}", path.display());
        println!("cargo:rustc-env=HERMES_SANDBOX_{name}_SHA256={}", hex::encode(Sha256::digest(&bytes)));
    }
    println!("cargo:rustc-env=HERMES_SANDBOX_COREUTILS_LIST={}", COREUTILS.join(","));
}

/// CPython: `sandbox/python/build.sh`, keyed by a hash of its inputs.
fn python(root: &Path) -> Result<PathBuf, String> {
    let dir = root.join("sandbox/python").canonicalize().map_err(|e| format!("sandbox/python: {e}"))?;
    let mut inputs = vec![dir.join("app.py"), dir.join("build.sh"), dir.join("wit/world.wit")];
    let mut deps: Vec<PathBuf> = std::fs::read_dir(dir.join("wit/deps"))
        .map_err(|e| format!("sandbox/python/wit/deps: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    deps.sort();
    inputs.extend(deps);
    let mut h = std::hash::DefaultHasher::new();
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
        let bytes = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
        std::hash::Hash::hash(&bytes, &mut h);
    }
    let out_dir = hermes_guest_build::outer_target_dir(root).join("wasm-guests").join("python");
    let wasm = out_dir.join(format!("python-{:016x}.wasm", std::hash::Hasher::finish(&h)));
    if wasm.exists() {
        return Ok(wasm);
    }
    let status = std::process::Command::new("bash")
        .arg(dir.join("build.sh"))
        .arg(out_dir.join("venv"))
        .arg(&wasm)
        .status()
        .map_err(|e| format!("running build.sh: {e}"))?;
    if !status.success() || !wasm.exists() {
        return Err(format!("sandbox/python/build.sh failed ({status}); see its output above (it needs PyPI once)"));
    }
    Ok(wasm)
}
