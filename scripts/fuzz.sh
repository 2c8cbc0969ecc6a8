#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input for a fixed time each (default 60 s) and
# prints executions and findings; exit 1 when any input panicked a parser.
#   usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p hermes-fuzz -- "${1:-60}"
