#!/usr/bin/env bash
# The project's Python tools (cfn-lint, moto's server) in a virtualenv of their own, .tools/venv (git-ignored),
# pinned by tools/requirements.txt. Idempotent: does nothing when the venv already holds exactly
# those pins. Needs python3 with the venv module (Debian: apt-get install python3-venv).
# Prints the venv's bin directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/venv"
requirements="$root/tools/requirements.txt"
stamp="$venv/.requirements"

# Test files that need the venv may start together (cfn-lint's, the secure Redis's): one at a
# time, so that none sees a venv another is still building.
mkdir -p "$root/.tools"
exec 9>"$root/.tools/venv.lock"
flock 9

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  echo "$venv/bin"
  exit 0
fi
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  echo "python3 -m venv is missing: install python3-venv (Debian/Ubuntu) and run again" >&2
  exit 1
fi
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
cp "$requirements" "$stamp"
echo "$venv/bin"
