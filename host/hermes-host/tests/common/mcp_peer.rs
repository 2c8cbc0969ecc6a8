//! The Python MCP server of `tests/mcp-peers` (the official SDK's `MCPServer`), as a
//! peer the host's MCP client talks to over Streamable HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub fn peers_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../tests/mcp-peers")
}

/// Installs the pinned peers (idempotent, flock-guarded).
pub fn install_peers() {
    let out = Command::new("bash").arg(peers_dir().join("install.sh")).output().expect("run install.sh");
    assert!(out.status.success(), "installing the MCP peers failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The Python `MCPServer` on a free loopback port, logging requests to a file.
pub struct PythonPeer {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonPeer {
    pub fn start() -> PythonPeer {
        Self::start_on(0)
    }

    /// On `port` (0: a free one).
    pub fn start_on(port: u16) -> PythonPeer {
        install_peers();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new(peers_dir().join(".venv/bin/python"))
            .arg(peers_dir().join("server.py"))
            .arg("--log")
            .arg(&log)
            .arg("--port")
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python MCP server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("the MCP server printed its port").unwrap();
            if let Some(p) = line.strip_prefix("PORT ") {
                break p.trim().to_string();
            }
        };
        // The port is bound before it is printed; give uvicorn a moment to accept.
        for _ in 0..200 {
            if std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        PythonPeer { child, url: format!("http://127.0.0.1:{port}/mcp"), log, _dir: dir }
    }

    pub fn port(&self) -> u16 {
        self.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/mcp").parse().unwrap()
    }

    /// Every request the server received.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    pub fn calls(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r["method"] == "tools/call").collect()
    }
}
