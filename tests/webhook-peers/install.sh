#!/usr/bin/env bash
# Installs the webhook receiver's Python dependencies (pinned) into a venv beside
# this script. Idempotent and safe to run from several tests at once (flock).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
stamp="$venv/.installed-standardwebhooks-1.1.0"
exec 9>"$here/.install.lock"
flock 9
if [ -f "$stamp" ]; then
    exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "standardwebhooks==1.1.0"
touch "$stamp"
