#!/usr/bin/env bash
# Builds what the container image ships, into OUT_DIR:
#   OUT_DIR/bin/hermes-host   the binary, built with the `dist` profile (thin LTO, one codegen unit)
#   OUT_DIR/cache/            the harness and the code tools' programs, precompiled for it
# The Dockerfile's build stage runs exactly this, so a machine without a Docker daemon
# can run (and test) the image's build steps: `scripts/image/build.sh /tmp/image`.
#
# The precompiled cache is keyed by the engine's compatibility hash (wasmtime version
# and the CPU features it compiles for): a host on a CPU the builder did not match
# compiles once at its first start and caches that, it does not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:?usage: scripts/image/build.sh OUT_DIR}"
mkdir -p "$out/bin" "$out/cache"
out="$(cd "$out" && pwd)"
target="${CARGO_TARGET_DIR:-target}"

started=$(date +%s)
cargo build --locked --profile dist -p hermes-host
install -m 0755 "$target/dist/hermes-host" "$out/bin/hermes-host"
echo "built $out/bin/hermes-host ($(du -h "$out/bin/hermes-host" | cut -f1)) in $(( $(date +%s) - started )) s"

# The default configuration compiles the code tools' programs too (CPython included).
HERMES_CACHE_DIR="$out/cache" "$out/bin/hermes-host" precompile
"$out/bin/hermes-host" --version
