//! Compiles Hermes guest components from a build script.
//!
//! `host/build.rs` (the harness) and `tests/build.rs` (the test guests) call
//! [`build_components`], which runs
//!
//! ```text
//! $CARGO build --release --target wasm32-wasip2 -p <pkg>... --target-dir <target>/wasm-guests/<pkg+pkg…>
//! ```
//!
//! in a scrubbed environment and returns the `.wasm` files. A `wasm32-wasip2` `cdylib`
//! is already a component (the toolchain's linker componentizes it), and so is a `bin`
//! (a WASI command component): no extra tooling is needed.
//!
//! The guests get their own target directory, next to the outer build's profiles
//! (`target/wasm-guests/<package set>`), so they are built once for every profile,
//! never fight the outer build over its lock, and two package sets with different
//! feature unification (the harness with and without `component`) never overwrite each
//! other's artifacts.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target every guest is compiled for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (cargo package names of the workspace at `workspace_root`) for
/// `wasm32-wasip2` in release mode and returns their `.wasm` artifacts, in the order of
/// `packages`.
///
/// Meant for build scripts: it prints `cargo:rerun-if-changed` lines for `wit/`,
/// `guest-sdk/` and each package's directory, so the guests are rebuilt exactly when
/// their sources change. The error names the failing step; the compiler's own
/// diagnostics go to the build script's stderr, which cargo shows on failure.
pub fn build_components(workspace_root: &Path, packages: &[&str]) -> Result<Vec<PathBuf>, String> {
    let root =
        workspace_root.canonicalize().map_err(|e| format!("workspace root {}: {e}", workspace_root.display()))?;
    let mut watched = vec![root.join("wit")];
    for package in packages {
        let dir =
            package_dir(&root, package).ok_or_else(|| format!("no package `{package}` under {}", root.display()))?;
        watch_with_path_deps(&dir, &mut watched);
    }
    for dir in &watched {
        rerun_if_changed(dir);
    }

    // One target directory per package set: cargo unifies features across the packages
    // of one build, and the uplifted `.wasm` paths are shared, so two sets that enable
    // different features of a common crate (the bench guest builds the harness without
    // `component`) must never write into the same directory.
    let target_dir = outer_target_dir(&root).join("wasm-guests").join(packages.join("+"));
    ensure_target_installed(&root);
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    scrub_env(&mut cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());

    let output = cmd.output().map_err(|e| format!("running cargo for the guests: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build --target {TARGET} -p {} failed ({}); see the diagnostics above",
            packages.join(" -p "),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    packages
        .iter()
        .map(|package| {
            artifact_of(&stdout, package)
                .ok_or_else(|| format!("cargo built `{package}` but reported no .wasm artifact"))
        })
        .collect()
}

/// A published crate's binary, built for `wasm32-wasip2` with `cargo install --locked`
/// (its own lockfile) and exactly `features`, into
/// `<target>/wasm-guests/installed/<crate>-<version>-<features hash>/bin/<bin>.wasm`.
/// Built once: a later call finds the file and returns at once, so the registry is
/// needed only for the first build of a clone.
pub fn install_crate(
    workspace_root: &Path,
    krate: &str,
    version: &str,
    features: &[&str],
    bin: &str,
) -> Result<PathBuf, String> {
    let root =
        workspace_root.canonicalize().map_err(|e| format!("workspace root {}: {e}", workspace_root.display()))?;
    let guests = outer_target_dir(&root).join("wasm-guests");
    let features = features.join(",");
    let tag = {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        features.hash(&mut h);
        format!("{:016x}", h.finish())
    };
    let install_root = guests.join("installed").join(format!("{krate}-{version}-{tag}"));
    let wasm = install_root.join("bin").join(format!("{bin}.wasm"));
    if wasm.exists() {
        return Ok(wasm);
    }
    ensure_target_installed(&root);
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .args(["install", "--locked", "--force", "--target", TARGET, "--no-default-features"])
        .arg(format!("{krate}@{version}"))
        .args(["--features", &features])
        .arg("--root")
        .arg(&install_root)
        .arg("--target-dir")
        .arg(guests.join(format!("{krate}-{version}")));
    scrub_env(&mut cmd);
    cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    let status = cmd.status().map_err(|e| format!("running cargo install {krate}: {e}"))?;
    if !status.success() || !wasm.exists() {
        return Err(format!(
            "cargo install {krate}@{version} --target {TARGET} failed ({status}); see the output above \
             (the first build of a clone needs crates.io)"
        ));
    }
    Ok(wasm)
}

/// The outer build's target directory: `CARGO_TARGET_DIR` when set, else derived from
/// `OUT_DIR` (`<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`), else
/// `<workspace_root>/target`.
pub fn outer_target_dir(workspace_root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() { dir } else { workspace_root.join(dir) };
    }
    std::env::var_os("OUT_DIR")
        .and_then(|out| target_dir_from_out_dir(Path::new(&out)))
        .unwrap_or_else(|| workspace_root.join("target"))
}

/// `<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out` → `<target>`.
fn target_dir_from_out_dir(out_dir: &Path) -> Option<PathBuf> {
    let build = out_dir.ancestors().find(|p| p.file_name().is_some_and(|n| n == "build"))?;
    let above_profile = build.parent()?.parent()?;
    // Cargo tags the target directory's root with CACHEDIR.TAG; without it we are in
    // a `<target>/<triple>` directory (a `--target` build).
    if above_profile.join("CACHEDIR.TAG").exists() {
        Some(above_profile.to_path_buf())
    } else {
        above_profile.parent().map(Path::to_path_buf)
    }
}

/// Removes what the outer cargo sets for build scripts and what would break or
/// poison a nested build: flags meant for the host target, the outer target
/// directory, wrappers (clippy, sccache, coverage), the outer jobserver, profile
/// overrides and the outer package's build-script variables (features, cfgs).
/// Installs the wasm target when the toolchain lacks it (rust-toolchain.toml lists it,
/// but some rustup setups do not auto-install targets). Best effort: if it still is
/// missing, the cargo build below fails with rustc's own explanation.
fn ensure_target_installed(root: &Path) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc).current_dir(root).args(["--print", "sysroot"]).output();
    let installed = sysroot
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| Path::new(s.trim()).join("lib/rustlib").join(TARGET).exists())
        .unwrap_or(false);
    if !installed {
        let _ = Command::new("rustup").current_dir(root).args(["target", "add", TARGET]).status();
    }
}

fn scrub_env(cmd: &mut Command) {
    const EXACT: &[&str] = &[
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_BUILD_DIR",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        "CARGO_INCREMENTAL",
        "LLVM_PROFILE_FILE",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
        "RUSTDOC",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_PROFILE_",
        "CARGO_FEATURE_",
        "CARGO_CFG_",
        "CARGO_PKG_",
        "CARGO_TARGET_WASM32_WASIP2_",
        "CARGO_LLVM_COV",
        "__CARGO_",
        "DEP_",
    ];
    let doomed: Vec<OsString> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            EXACT.contains(&k.as_ref()) || PREFIXES.iter().any(|p| k.starts_with(p))
        })
        .collect();
    for key in doomed {
        cmd.env_remove(key);
    }
}

/// The `.wasm` that cargo's JSON messages report for `package`.
fn artifact_of(messages: &str, package: &str) -> Option<PathBuf> {
    messages
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["target"]["name"].as_str().map(|n| n.replace('_', "-")) == Some(package.replace('_', "-")))
        .filter(|m| {
            m["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib" || k == "bin"))
        })
        .filter_map(|m| {
            m["filenames"]
                .as_array()?
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
        })
        .next()
}

/// The directory of the workspace package named `package`: the nearest `Cargo.toml`
/// (at most three levels down, outside `target/` and hidden folders) that names it.
fn package_dir(root: &Path, package: &str) -> Option<PathBuf> {
    let wanted = format!("name = \"{package}\"");
    let mut frontier = vec![root.to_path_buf()];
    for _depth in 0..=3 {
        let mut next = Vec::new();
        for dir in frontier {
            let manifest = dir.join("Cargo.toml");
            if std::fs::read_to_string(&manifest).is_ok_and(|text| text.lines().any(|l| l.trim() == wanted)) {
                return Some(dir);
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if entry.file_type().is_ok_and(|t| t.is_dir()) && !name.starts_with('.') && name != "target" {
                    next.push(entry.path());
                }
            }
        }
        next.sort();
        frontier = next;
    }
    None
}

/// Adds `dir` and, recursively, the directories of its `path = "…"` dependencies
/// (the bench guest depends on the harness, every guest on the SDK).
fn watch_with_path_deps(dir: &Path, watched: &mut Vec<PathBuf>) {
    let Ok(dir) = dir.canonicalize() else { return };
    if watched.contains(&dir) {
        return;
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    watched.push(dir.clone());
    for dep in path_dependencies(&manifest) {
        watch_with_path_deps(&dir.join(dep), watched);
    }
}

/// The `path = "…"` values of a manifest (dependency paths; `[lib] path` is a file
/// inside the package and is skipped by the caller's `canonicalize` of a directory).
fn path_dependencies(manifest: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = manifest;
    while let Some(at) = rest.find("path") {
        rest = &rest[at + 4..];
        let after = rest.trim_start();
        let Some(value) = after.strip_prefix('=').map(str::trim_start) else {
            continue;
        };
        if let Some(value) = value.strip_prefix('"')
            && let Some(end) = value.find('"')
            && !value[..end].ends_with(".rs")
        {
            found.push(&value[..end]);
        }
    }
    found
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_dir_of_a_plain_build_maps_to_its_target_dir() {
        let tmp = std::env::temp_dir().join(format!("hgb-{}", std::process::id()));
        let out = tmp.join("target/debug/build/hermes-host-0123/out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(tmp.join("target/CACHEDIR.TAG"), "").unwrap();
        assert_eq!(target_dir_from_out_dir(&out), Some(tmp.join("target")));

        let cross = tmp.join("target/x86_64-unknown-linux-gnu/release/build/h-1/out");
        std::fs::create_dir_all(&cross).unwrap();
        assert_eq!(target_dir_from_out_dir(&cross), Some(tmp.join("target")));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn finds_workspace_packages() {
        let root =
            Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("..");
        let dir = package_dir(&root, "hermes-guest-build").unwrap();
        assert!(dir.ends_with("guest-build"));
        assert!(package_dir(&root, "no-such-package").is_none());
    }

    #[test]
    fn path_dependencies_are_found() {
        let manifest = r#"
[lib]
path = "src/lib.rs"
[dependencies]
hermes-harness = { path = "../../harness", default-features = false }
hermes-guest = { path="../../guest-sdk" }
serde.workspace = true
"#;
        assert_eq!(path_dependencies(manifest), ["../../harness", "../../guest-sdk"]);
    }

    #[test]
    fn picks_the_wasm_of_a_cdylib_or_bin() {
        let msgs = r#"{"reason":"compiler-artifact","target":{"name":"hermes_harness","kind":["cdylib","rlib"]},"filenames":["/t/libhermes_harness.rlib","/t/hermes_harness.wasm"]}
{"reason":"compiler-artifact","target":{"name":"hermes-bench-guest","kind":["bin"]},"filenames":["/t/hermes-bench-guest.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(artifact_of(msgs, "hermes-harness"), Some(PathBuf::from("/t/hermes_harness.wasm")));
        assert_eq!(artifact_of(msgs, "hermes-bench-guest"), Some(PathBuf::from("/t/hermes-bench-guest.wasm")));
    }
}
