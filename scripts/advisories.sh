#!/usr/bin/env bash
# Checks the dependency tree against a local copy of the RustSec advisory database
# (these machines reach package registries only, so the database is a copy).
#   usage: scripts/advisories.sh PATH_OR_URL_OF_ADVISORY_DB
# Prints cargo-deny's verdict and the database's last commit date; record both in
# docs/security.md.
set -euo pipefail
src="${1:?usage: scripts/advisories.sh PATH_OR_URL_OF_ADVISORY_DB}"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# cargo-deny looks for the default database under this name inside db-path.
git clone -q "$src" "$work/advisory-db-3157b0e258782691"
printf '[advisories]\ndb-path = "%s"\n' "$work" > "$work/deny.toml"
echo "advisory database as of $(git -C "$work/advisory-db-3157b0e258782691" log -1 --format=%cI)"
cd "$here"
cargo deny --offline --config "$work/deny.toml" check advisories
