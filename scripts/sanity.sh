#!/usr/bin/env bash
# ansible-test sanity on the collection as it ships (run by `make lint`).
#   scripts/sanity.sh                 every sanity test
#   scripts/sanity.sh --test pylint   any other ansible-test sanity options
#   scripts/sanity.sh --prime-venvs   only install what the tests need (scripts/bootstrap.sh)
# ansible-test wants a real .../ansible_collections/netoss/core directory, and this checkout
# reaches the collection through a symlink (.collections/). So the collection is built with
# ansible-galaxy (galaxy.yml's build_ignore applies: what is tested is what ships), unpacked
# into a temporary ansible_collections/netoss/core with tests/sanity/ (the ignore file) beside
# it, and the collections it imports (ansible.netcommon, ansible.utils) are linked in from the
# pinned `ansible` package. No container: --local, on this virtualenv's Python.
# ansible-test installs each test's requirements, at the versions ansible-core pins (in
# ansible_test/_data/requirements/sanity.*.txt, fixed by ansible-core's pin in
# requirements/runtime.txt), from PyPI into its own virtualenvs in ~/.ansible/test/venv, once;
# bootstrap does that with --prime-venvs. The pip bootstrap script it would download from
# elsewhere is replaced by scripts/ansible_test_get_pip.py (ensurepip, then pip from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/.venv/bin
log() { printf "[sanity] %s\n" "$*" >&2; }

pyver=$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
purelib=$("$BIN/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# The pip bootstrap script, where ansible-test looks for its cached copy.
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',$/\1/p" "$purelib/ansible_test/_internal/python_requirements.py" | head -1)
[ -n "$pip_version" ] || { echo "sanity: cannot read the pip version ansible-test pins (ansible_test/_internal/python_requirements.py)" >&2; exit 1; }
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
# (A real one that ansible-test downloaded is kept; an older copy of ours is refreshed.)
if [ ! -s "$get_pip" ] || { grep -q "Stand-in for the pip bootstrap script" "$get_pip" && ! cmp -s scripts/ansible_test_get_pip.py "$get_pip"; }; then
  mkdir -p "$(dirname "$get_pip")"
  cp scripts/ansible_test_get_pip.py "$get_pip"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/netoss-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$BIN/ansible-galaxy" collection build --output-path "$work/dist" . >/dev/null
dest=$work/ansible_collections/netoss/core
mkdir -p "$dest/tests"
tar -xzf "$work"/dist/netoss-core-*.tar.gz -C "$dest"
cp -r tests/sanity "$dest/tests/"
for dep in ansible/netcommon ansible/utils; do
  [ -d "$purelib/ansible_collections/$dep" ] || { echo "sanity: no $dep collection in $purelib (the ansible package)" >&2; exit 1; }
  mkdir -p "$work/ansible_collections/$(dirname "$dep")"
  ln -s "$purelib/ansible_collections/$dep" "$work/ansible_collections/$dep"
done

log "ansible-test sanity on $dest (Python $pyver)"
cd "$dest"
start=$SECONDS
"$BIN/ansible-test" sanity --local --python "$pyver" --color no "$@"
log "passed in $((SECONDS - start)) s"
