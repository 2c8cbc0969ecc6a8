#!/usr/bin/env bash
# Builds the Python tool plugin into a component: installs the pinned
# componentize-py 0.25.1 into .venv/ here (once; flock-guarded, so several tests may
# run it at once), then `componentize-py componentize` against the repository's wit/.
#   usage: ./build.sh [OUTPUT.wasm]     (default: csv_tools.wasm here)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/csv_tools.wasm}"
exec 9>"$here/.install.lock"
flock 9
venv="$here/.venv"
stamp="$venv/.installed-componentize-py-0.25.1"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "componentize-py==0.25.1"
    touch "$stamp"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$venv/bin/componentize-py" -d "$here/../../wit" -w tool-plugin componentize -p "$here" app -o "$out" >/dev/null
echo "$out"
