#!/usr/bin/env sh
# Installs the third-party SSE clients the host/hermes-host/tests/sse_clients.rs tests drive:
# Node's `eventsource` package (pinned, into tests/sse-clients/node_modules) and
# headless Chromium (apt). Idempotent: does nothing that is already done.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if command -v node >/dev/null 2>&1 && [ ! -d "$here/node_modules/eventsource" ]; then
    npm install --prefix "$here" --no-audit --no-fund --loglevel=error
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    else
        echo "chromium missing and not root: install it with apt-get install chromium" >&2
    fi
fi
