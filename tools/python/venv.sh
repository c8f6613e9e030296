#!/usr/bin/env bash
# The project's Python tools in virtualenvs of their own (git-ignored), each pinned by its
# requirements file:
#   tools/python/venv.sh             .tools/venv            tools/python/requirements.txt (cfn-lint, moto's server)
#   tools/python/venv.sh localstack  .tools/localstack-venv tools/python/localstack-requirements.txt
# LocalStack has its own venv because its moto fork and moto[server] install the same `moto`
# package, and because it needs Python 3.12+ (found as python3.13/python3.12 on PATH, in pyenv's
# versions, or given as SEQGUARD_LOCALSTACK_PYTHON).
# Idempotent: does nothing when the venv already holds exactly those pins. Needs python3 with the
# venv module (Debian: apt-get install python3-venv). Prints the venv's bin directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
case "${1:-}" in
  '')
    venv="$root/.tools/venv"
    requirements="$root/tools/python/requirements.txt"
    ;;
  localstack)
    venv="$root/.tools/localstack-venv"
    requirements="$root/tools/python/localstack-requirements.txt"
    ;;
  *)
    echo "usage: $0 [localstack]" >&2
    exit 2
    ;;
esac
stamp="$venv/.requirements"

# Test files that need a venv may start together (cfn-lint's, the secure Redis's): one at a
# time, so that none sees a venv another is still building.
mkdir -p "$root/.tools"
exec 9>"$root/.tools/venv.lock"
flock 9

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  echo "$venv/bin"
  exit 0
fi

# A python that can make a venv, of at least the given minor version of Python 3.
usable() {
  "$1" -c "import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, $2) else 1)" >/dev/null 2>&1
}
python=python3
if [ "${1:-}" = localstack ]; then
  python=''
  candidates=("${SEQGUARD_LOCALSTACK_PYTHON:-}" python3.13 python3.12 python3)
  pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  if [ -d "$pyenv_root/versions" ]; then
    while IFS= read -r found; do candidates+=("$found"); done < <(
      ls -d "$pyenv_root"/versions/3.1[23].*/bin/python3 2>/dev/null | sort -rV
    )
  fi
  for candidate in "${candidates[@]}"; do
    if [ -n "$candidate" ] && usable "$candidate" 12; then
      python="$candidate"
      break
    fi
  done
  if [ -z "$python" ]; then
    echo "LocalStack 4.14 needs Python 3.12 or 3.13 with venv: none found (python3.13, python3.12, python3, pyenv); set SEQGUARD_LOCALSTACK_PYTHON to one" >&2
    exit 1
  fi
elif ! usable python3 0; then
  echo "python3 -m venv is missing: install python3-venv (Debian/Ubuntu) and run again" >&2
  exit 1
fi
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
cp "$requirements" "$stamp"
echo "$venv/bin"
