#!/usr/bin/env bash
# Fuzzes the REST API against its own /openapi.json with Schemathesis: no server
# errors, no undocumented status codes or content types, responses match schemas.
# Usage: scripts/schemathesis.sh [max-examples]   (installs schemathesis in a venv)
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-40}"
venv="${HERMES_PYVENV:-${TMPDIR:-/tmp}/hermes-schemathesis-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
cargo build -q -p hermes-host
data="$(mktemp -d)"
port="${HERMES_ST_PORT:-18788}"
OPENAI_API_KEY=unused ./target/debug/hermes-host serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do [ -f "$data/admin.key" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# positive_data_acceptance is excluded: a schema cannot express every semantic rule
# (a SKILL.md's frontmatter, a known runtime), and those requests rightly get 4xx.
# The stateful phase runs on its own: after the other phases, Schemathesis 4.32's link
# inference also learns links from their responses and builds some that name path
# parameters the target operation does not have (e.g. a deployment's `id` into
# `/v1/sessions/{session_id}/events/stream`), then reports its own links as invalid.
# Alone, it infers links from the schema and runs them.
run() {
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    -H "Authorization: Bearer $(cat "$data/admin.key")" \
    --checks all --exclude-checks positive_data_acceptance -n "$examples" "$@"
}
if [ -n "${HERMES_ST_ARGS:-}" ]; then
  # shellcheck disable=SC2086
  run $HERMES_ST_ARGS
else
  run --phases examples,coverage,fuzzing
  run --phases stateful
fi
