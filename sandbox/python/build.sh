#!/usr/bin/env bash
# Builds the sandbox's python3 (CPython as a WASI command component) with the pinned
# componentize-py, which it installs from PyPI into VENV once (flock-guarded, so
# several builds may run it at once).
#   usage: build.sh VENV OUTPUT.wasm
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$1"
out="$2"
version="0.25.1"
mkdir -p "$(dirname "$venv")" "$(dirname "$out")"
exec 9>"$venv.lock"
flock 9
stamp="$venv/.installed-componentize-py-$version"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "componentize-py==$version"
    touch "$stamp"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$venv/bin/componentize-py" -q -d "$here/wit" -w python componentize -p "$here" app -o "$work/python.wasm"
mv "$work/python.wasm" "$out"
