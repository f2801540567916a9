#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter (ansible-core 2.21 and NetBox 4.7 need it).
# Order: $PYTHON if set, then 3.12 (the version tested here) before newer ones, on PATH then in pyenv.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }
if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then command -v "$PYTHON"; exit 0; fi
  echo "find-python: PYTHON=$PYTHON is not a Python >= 3.12" >&2; exit 1
fi
for name in python3.12 python3.13 python3; do
  p=$(command -v "$name" 2>/dev/null) || continue
  # pyenv shims only work for the selected version; skip them here and ask pyenv below.
  case "$p" in */shims/*) continue ;; esac
  if ok "$p"; then echo "$p"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for p in $(ls -d "$root"/versions/3.12*/bin/python3 2>/dev/null | sort -rV) \
         $(ls -d "$root"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -V); do
  if ok "$p"; then echo "$p"; exit 0; fi
done
echo "find-python: no Python >= 3.12 found; install one (e.g. pyenv install 3.12) or set PYTHON=/path/to/python3.12" >&2
exit 1
