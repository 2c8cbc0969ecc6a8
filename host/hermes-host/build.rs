//! Records, for `hermes-host --version`, the wasmtime this binary is built with (from the
//! workspace's Cargo.lock) and the WIT package it speaks (from `wit/worlds.wit`).

use std::path::Path;

fn main() {
    // Read when the script runs, not baked in when it is compiled: checkouts that share
    // a target directory (CI's clone) reuse one compiled build script.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest).join("../..");
    let lock = root.join("Cargo.lock");
    let worlds = root.join("wit/worlds.wit");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-changed={}", worlds.display());
    let lock = std::fs::read_to_string(&lock).unwrap_or_default();
    // `[[package]]\nname = "wasmtime"\nversion = "…"` in the lock file.
    let wasmtime = lock
        .split("[[package]]")
        .find(|p| p.lines().any(|l| l.trim() == "name = \"wasmtime\""))
        .and_then(|p| p.lines().find_map(|l| l.trim().strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let wit = std::fs::read_to_string(&worlds).unwrap_or_default();
    let package = wit
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.trim_end_matches(';').to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HERMES_WASMTIME_VERSION={wasmtime}");
    println!("cargo:rustc-env=HERMES_WIT_PACKAGE={package}");
}
