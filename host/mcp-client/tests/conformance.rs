//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! `tests/mcp-peers`) in client mode against `mcp-conformance-client`, the small
//! binary around this crate's [`hermes_mcp_client::McpClient`].

use std::path::{Path, PathBuf};
use std::process::Command;

fn peers_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../tests/mcp-peers")
}

/// Installs the pinned peers (idempotent, flock-guarded).
fn install_peers() {
    let out = Command::new("bash").arg(peers_dir().join("install.sh")).output().expect("run install.sh");
    assert!(out.status.success(), "installing the MCP peers failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_conformance_suite_passes_our_client() {
    install_peers();
    let bin = peers_dir().join("node_modules/.bin");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let work = tempfile::tempdir().unwrap();
    for scenario in ["initialize", "tools_call", "sse-retry"] {
        let out = Command::new(bin.join("conformance"))
            .args(["client", "--command", env!("CARGO_BIN_EXE_mcp-conformance-client"), "--scenario", scenario])
            .env("PATH", &path)
            .current_dir(work.path())
            .output()
            .expect("run the conformance suite");
        // The suite reports on stderr.
        let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success() && report.contains("OVERALL: PASSED") && report.contains(", 0 failed"),
            "scenario {scenario} failed:\n{report}"
        );
    }
}
