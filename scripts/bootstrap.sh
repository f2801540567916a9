#!/usr/bin/env bash
# Install what netoss needs on this machine, idempotently:
#   - Debian packages (only those missing),
#   - the app virtualenv (.venv): ansible, ansible-runner, the portal and the tools, pinned,
#   - the NetBox virtualenv (.venv-netbox): netbox==4.7.3, pinned.
# A stamp holding the hash of the pin files makes a second run take well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { printf '[bootstrap] %s\n' "$*"; }
# pip, without the warnings this machine's pip.conf causes for index folders it lacks.
quiet_pip() {
  local rc
  set +e
  "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

DEBS="postgresql redis-server frr openssh-server iproute2 iputils-ping git libpq-dev gcc"
[ "${NETOSS_WITH_BROWSER:-0}" = 1 ] && DEBS="$DEBS chromium"
missing=$(for p in $DEBS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || { echo "bootstrap: need root to install Debian packages: $missing" >&2; exit 1; }
  log "installing Debian packages: $(echo $missing)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101: install the packages without starting their system services;
  # netoss runs its own PostgreSQL, Redis, FRR and sshd on its own ports.
  prc=/usr/sbin/policy-rc.d; had_prc=0; [ -e $prc ] && had_prc=1
  [ $had_prc = 1 ] || { printf '#!/bin/sh\nexit 101\n' > $prc; chmod +x $prc; }
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  [ $had_prc = 1 ] || rm -f $prc
fi

PY=$(scripts/find-python.sh)
stamp_ok() { [ -f "$1/.netoss-stamp" ] && [ "$(cat "$1/.netoss-stamp")" = "$2" ] && [ -x "$1/bin/python" ]; }

# App virtualenv.
app_hash=$( (cat pyproject.toml requirements/app.txt; $PY -V) | sha256sum | cut -c1-16)
if ! stamp_ok .venv "$app_hash"; then
  log "building .venv with $PY ($($PY -V))"
  [ -x .venv/bin/python ] || $PY -m venv .venv
  quiet_pip .venv/bin/python -m pip install -q -c requirements/app.txt -e ".[dev]"
  echo "$app_hash" > .venv/.netoss-stamp
fi

# The collection's Python (plugins/module_utils) is importable as ansible_collections.netoss.core
# in the app virtualenv too, for the netoss CLI and the portal: a .pth file names .collections.
purelib=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT/.collections" > "$purelib/netoss-collections.pth"

# NetBox virtualenv.
nb_hash=$( (cat requirements/netbox.txt; $PY -V) | sha256sum | cut -c1-16)
if ! stamp_ok .venv-netbox "$nb_hash"; then
  log "building .venv-netbox with $PY"
  [ -x .venv-netbox/bin/python ] || $PY -m venv .venv-netbox
  quiet_pip .venv-netbox/bin/python -m pip install -q -r requirements/netbox.txt
  echo "$nb_hash" > .venv-netbox/.netoss-stamp
fi
log "ready: .venv ($(.venv/bin/python -V)), .venv-netbox (netbox $(.venv-netbox/bin/python -c 'import importlib.metadata as m; print(m.version("netbox"))'))"
