#!/usr/bin/env bash
# Installs the pinned MCP peers host/hermes-host/tests/mcp.rs runs against:
#   - Python `mcp` 2.3.0 (its MCPServer, streamable HTTP) in .venv/ here;
#   - npm: @modelcontextprotocol/server-everything 2026.8.31, the conformance
#     suite @modelcontextprotocol/conformance 0.1.16, and Node 22 (npm's `node`
#     package, 22.23.3: the suite needs Node 22) in node_modules/ here.
# Idempotent (stamp files) and safe to run from several tests at once (flock).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec 9>"$here/.install.lock"
flock 9
venv="$here/.venv"
py_stamp="$venv/.installed-mcp-2.3.0"
if [ ! -f "$py_stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==2.3.0" "uvicorn==0.54.0"
    touch "$py_stamp"
fi
npm_stamp="$here/node_modules/.installed-$(sha256sum "$here/package-lock.json" | cut -c1-16)"
if [ ! -f "$npm_stamp" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$npm_stamp"
fi
