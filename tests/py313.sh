#!/usr/bin/env bash
# The unit tests (`make test-unit`'s selection: not FULL) on CPython 3.13, in .venv-py313, to
# back pyproject's requires-python. Which 3.13: $PY313 if set; else a python3.13 on PATH that
# runs (Debian trixie's, a pyenv shim with 3.13 active); else pyenv's newest 3.13 build; else
# (root) Debian trixie's 3.13 in a debootstrapped chroot (tests/py313_trixie.sh).
# PY_MINOR=3.12 does the same for 3.12 (PY313 then names a 3.12 interpreter), in .venv-py312.
set -euo pipefail
cd "$(dirname "$0")/.."
minor=${PY_MINOR:-3.13}
venv=.venv-py${minor/./}

runs() { [ -n "$1" ] && "$1" -c 'import sys, venv, ensurepip; assert sys.version_info[:2] == tuple(map(int, sys.argv[1].split(".")))' "$minor" 2>/dev/null; }

python=${PY313:-}
if ! runs "$python"; then
  python=$(command -v "python$minor" || true)
fi
if ! runs "$python"; then
  python=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/$minor.*/bin/python$minor 2>/dev/null | sort -V | tail -n 1 || true)
fi
if ! runs "$python" && [ "$minor" = 3.13 ] && [ "$(id -u)" = 0 ]; then
  echo "test-py313: no local CPython 3.13; Debian trixie's, in a chroot (tests/py313_trixie.sh)"
  exec bash tests/py313_trixie.sh
fi
if ! runs "$python"; then
  echo "test-py313: no CPython $minor with venv found. Set PY313=/path/to/python$minor (Debian trixie's" \
    "python3.13-venv, or \`pyenv install $minor\`)." >&2
  exit 2
fi
echo "test-py313: $("$python" -VV | head -n 1) ($python)"

stamp=$venv/.installed-stamp
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  test -x "$venv/bin/python" || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e '.[emulator,dev]'
  touch "$stamp"
fi
# The editable install of this tree into a second venv: tests find the binaries (avatar-bridge,
# grpcurl, hadolint) next to that venv's interpreter, as they do in .venv.
exec "$venv/bin/pytest" -m "not full" -p no:cacheprovider "$@"
