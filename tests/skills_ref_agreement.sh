#!/usr/bin/env bash
# Compares Hermes Host's SKILL.md validator with the Agent Skills reference validator
# (PyPI `skills-ref`, command `agentskills validate DIR`) on every folder of
# tests/skills-corpus/{valid,invalid}/. Disagreements listed in the `expected-disagreements`
# block of tests/skills-corpus/DIFFERENCES.md are expected; any other disagreement, a listed
# folder where both agree, or a verdict of ours that contradicts the folder it sits in
# (valid/ vs invalid/) makes the script exit 1.
#
# Environment:
#   HERMES_PYVENV          reuse this Python venv (created and skills-ref installed if needed)
#                          instead of a throwaway one in a temp dir
#   HERMES_VALIDATE_CMD    command prefix for our validator, run as `$HERMES_VALIDATE_CMD DIR`
#                          (default: cargo run -q -p hermes-host -- skills validate)
#   PYTHON                 interpreter used to create the venv (default: python3; needs >= 3.11)
set -euo pipefail

SKILLS_REF_VERSION=0.1.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
corpus="$here/skills-corpus"
workspace="$(cd "$here/.." && pwd)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

venv="${HERMES_PYVENV:-$tmp/venv}"
if [[ ! -x "$venv/bin/agentskills" ]] || ! "$venv/bin/python" -m pip show skills-ref 2>/dev/null | grep -qx "Version: $SKILLS_REF_VERSION"; then
  [[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "skills-ref==$SKILLS_REF_VERSION"
fi
reference=("$venv/bin/agentskills" validate)

if [[ -n "${HERMES_VALIDATE_CMD:-}" ]]; then
  read -r -a ours <<<"$HERMES_VALIDATE_CMD"
else
  (cd "$workspace" && cargo build -q -p hermes-host)
  ours=(cargo run -q --manifest-path "$workspace/Cargo.toml" -p hermes-host -- skills validate)
fi

# The expected disagreements: the lines of the ```expected-disagreements block.
expected="$tmp/expected"
awk '/^```expected-disagreements/ {on=1; next} on && /^```/ {on=0} on && NF {print $1}' \
  "$corpus/DIFFERENCES.md" | sort -u >"$expected"

# verdict CMD... DIR -> prints valid|invalid; anything but exit 0/1 is a failure to run.
verdict() {
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  case "$rc" in
    0) echo valid ;;
    1) echo invalid ;;
    *) printf 'could not run `%s` (exit %s):\n%s\n' "$*" "$rc" "$out" >&2; return 1 ;;
  esac
}

failures=0 checked=0 agreed=0 differ=0
shopt -s nullglob
for dir in "$corpus"/valid/*/ "$corpus"/invalid/*/; do
  dir="${dir%/}"
  rel="${dir#"$corpus"/}"
  intended="${rel%%/*}"
  ref="$(verdict "${reference[@]}" "$dir")"
  our="$(verdict "${ours[@]}" "$dir")"
  checked=$((checked + 1))
  listed=no
  grep -qxF -- "$rel" "$expected" && listed=yes
  if [[ "$our" != "$intended" ]]; then
    echo "FAIL $rel: ours says $our but the folder is $intended/"
    failures=$((failures + 1))
  fi
  if [[ "$ref" == "$our" ]]; then
    agreed=$((agreed + 1))
    if [[ $listed == yes ]]; then
      echo "FAIL $rel: listed in DIFFERENCES.md but both say $our (remove it from the list)"
      failures=$((failures + 1))
    fi
  else
    differ=$((differ + 1))
    if [[ $listed == yes ]]; then
      echo "ok   $rel: expected disagreement (reference $ref, ours $our)"
    else
      echo "FAIL $rel: reference says $ref, ours says $our (not listed in DIFFERENCES.md)"
      "${reference[@]}" "$dir" 2>&1 | sed 's/^/       reference| /' || true
      "${ours[@]}" "$dir" 2>&1 | sed 's/^/       ours     | /' || true
      failures=$((failures + 1))
    fi
  fi
done

# Listed folders that do not exist are stale too.
while IFS= read -r rel; do
  if [[ ! -d "$corpus/$rel" ]]; then
    echo "FAIL $rel: listed in DIFFERENCES.md but no such corpus folder"
    failures=$((failures + 1))
  fi
done <"$expected"

echo "skills-ref $SKILLS_REF_VERSION vs hermes-host: $checked skills, $agreed agree, $differ differ as documented or not; $failures failure(s)"
[[ $checked -gt 0 && $failures -eq 0 ]]
