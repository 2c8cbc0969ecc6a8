//! Compiled components on disk, keyed by the component's hash and the engine's
//! compatibility hash, so a restart skips compilation.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::RuntimeError;

/// Content hash of a component's bytes (hex).
pub fn component_hash(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

fn engine_hash(engine: &Engine) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    h.finish()
}

fn cache_path(dir: &Path, engine: &Engine, hash: &str) -> PathBuf {
    dir.join(format!("{hash}-{:016x}.cwasm", engine_hash(engine)))
}

/// Loads the compiled form of `wasm` from `dir`, compiling and storing it on a miss.
/// Blocking (compilation takes seconds): call from a blocking thread.
pub fn load_or_compile(engine: &Engine, dir: &Path, wasm: &[u8]) -> Result<(Component, bool), RuntimeError> {
    load_or_compile_keyed(engine, dir, wasm, &component_hash(wasm))
}

/// [`load_or_compile`] for bytes whose content hash the caller already knows.
pub fn load_or_compile_keyed(
    engine: &Engine,
    dir: &Path,
    wasm: &[u8],
    hash: &str,
) -> Result<(Component, bool), RuntimeError> {
    let path = cache_path(dir, engine, hash);
    if path.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine with the
        // same compatibility hash, into the host's own data directory.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, true)),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unreadable cached component"),
        }
    }
    let bytes = engine.precompile_component(wasm).map_err(|e| RuntimeError::Compile(format!("{e:#}")))?;
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::Cache(format!("{}: {e}", dir.display())))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| RuntimeError::Cache(format!("{}: {e}", path.display())))?;
    // SAFETY: just produced by this engine.
    let component =
        unsafe { Component::deserialize(engine, &bytes) }.map_err(|e| RuntimeError::Compile(format!("{e:#}")))?;
    Ok((component, false))
}

/// The custom section a harness lists its built-in tools in (one name per line).
pub const BUILTIN_TOOLS_SECTION: &str = "hermes:builtin-tools";

/// The built-in tool names a component declares in its [`BUILTIN_TOOLS_SECTION`]
/// (searched in the component and the core modules inside it), in the order
/// declared; empty when it has none.
pub fn builtin_tools(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::CustomSection(section)) = payload else { continue };
        if section.name() != BUILTIN_TOOLS_SECTION {
            continue;
        }
        let text = String::from_utf8_lossy(section.data());
        for name in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}
