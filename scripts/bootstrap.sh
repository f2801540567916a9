#!/usr/bin/env bash
# Install what netoss needs on this machine, idempotently:
#   - Debian packages (only those missing),
#   - the app virtualenv (.venv): ansible, ansible-runner, the portal and the tools, pinned
#     (requirements/runtime.txt and requirements/dev.txt),
#   - the NetBox virtualenv (.venv-netbox): netbox==4.7.3, pinned,
#   - ansible-test sanity's tools, in ansible-test's own virtualenvs (~/.ansible/test/venv).
# Both virtualenvs run as the unprivileged `netoss` account, so their base Python must be one
# that account can run: a Python inside a private directory (pyenv's under /root, mode 0700) is
# first copied to /opt/netoss/python/<version> (root's, world-readable; see place_python).
# A stamp holding the hash of the pin files makes a second run take well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { printf "[bootstrap] %s\n" "$*" >&2; }
# pip, without the warnings this machine's pip.conf causes for index folders it lacks.
quiet_pip() {
  local rc
  set +e
  "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# Service assurance (docs/assurance.md): snmpd and FRR's AgentX modules in the lab's routers;
# Prometheus, its SNMP and blackbox exporters and Alertmanager run by the stack; iperf3 and nftables
# make traffic and loss on the lab's links in the assurance tests (this kernel has no netem).
DEBS="postgresql redis-server frr openssh-server iproute2 iputils-ping snmp git libpq-dev gcc patchelf
  snmpd frr-snmp prometheus prometheus-snmp-exporter prometheus-blackbox-exporter prometheus-alertmanager iperf3
  nftables"
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

# True if an unprivileged account (nobody) can start this Python.
runs_unprivileged() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$1" -c pass >/dev/null 2>&1; }

# place_python PY: print a Python the service accounts can run, the same build as PY.
# PY itself if they can run it; else a copy of its install in /opt/netoss/python/<version>,
# root's and world-readable, with the ELF run paths that named the old prefix made relative
# ($ORIGIN), so libpython and the extension modules load from the copy.
place_python() {
  local py=$1 prefix version dest tmp f
  if runs_unprivileged "$py"; then echo "$py"; return; fi
  prefix=$("$py" -c 'import sys; print(sys.base_prefix)')
  version=$("$py" -c 'import platform; print(platform.python_version())')
  dest=${NETOSS_PYTHON_HOME:-/opt/netoss/python}/$version
  if [ -x "$dest/bin/python3" ] && runs_unprivileged "$dest/bin/python3"; then echo "$dest/bin/python3"; return; fi
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: $py cannot be run by other accounts (a directory above $prefix is private) and only root can place a copy in $dest: run bootstrap as root, or set PYTHON to a Python >= 3.12 outside private directories" >&2
    exit 1
  fi
  log "placing a copy of $prefix in $dest (the service accounts cannot run Python from a private directory)"
  tmp="$dest.tmp$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # The base install without its own site-packages and test suite (the virtualenvs use neither).
  tar -C "$prefix" --exclude="./lib/python*/test" --exclude="./lib/python*/site-packages/*" -cf - . | tar -C "$tmp" -xf -
  while IFS= read -r -d '' f; do
    rp=$(patchelf --print-rpath "$f" 2>/dev/null) || continue
    case "$rp" in *"$prefix"*) ;; *) continue ;; esac
    rel=$(realpath --relative-to="$(dirname "$f")" "$tmp/lib")
    patchelf --set-rpath "\$ORIGIN/$rel" "$f"
  done < <(find "$tmp/bin" "$tmp/lib" -type f \( -name 'python3*' -o -name '*.so*' \) -print0)
  # Build settings (C extensions, python3-config) name the new prefix.
  grep -rlZ --include='_sysconfigdata*.py' --include=Makefile --include='*.pc' --include='python*-config' \
    -F "$prefix" "$tmp/lib" "$tmp/bin" | xargs -0 -r sed -i "s|$prefix|$dest|g" || true
  chown -R root:root "$tmp"; chmod -R u+rwX,go+rX,go-w "$tmp"
  chmod 755 "$(dirname "$dest")" "$(dirname "$(dirname "$dest")")"
  rm -rf "$dest"; mv "$tmp" "$dest"
  if ! runs_unprivileged "$dest/bin/python3"; then
    echo "bootstrap: the copy in $dest does not run as an unprivileged account:" >&2
    setpriv --reuid=65534 --regid=65534 --clear-groups -- "$dest/bin/python3" -c pass >&2 || true
    exit 1
  fi
  echo "$dest/bin/python3"
}

PY=$(place_python "$(scripts/find-python.sh)")
stamp_ok() { [ -f "$1/.netoss-stamp" ] && [ "$(cat "$1/.netoss-stamp")" = "$2" ] && [ -x "$1/bin/python" ]; }
# A virtualenv made from another base Python is made again (its interpreter links to that base).
venv_for() {
  local home
  home=$(sed -n 's/^home = //p' "$1/pyvenv.cfg" 2>/dev/null || true)
  if [ -x "$1/bin/python" ] && [ "$home" = "$(dirname "$PY")" ]; then return; fi
  [ -e "$1" ] && log "$1 was made from another Python ($home): making it again with $PY"
  "$PY" -m venv --clear "$1"
}

# App virtualenv. The stamp names the interpreter's path too: a new base Python rebuilds it.
# Pins: requirements/runtime.txt (what the runtime needs) and requirements/dev.txt (what the
# dev tools need besides), applied together as constraints to the project with its dev extra.
app_pins="requirements/runtime.txt requirements/dev.txt"
app_hash=$( (cat pyproject.toml $app_pins; echo "$PY"; $PY -V) | sha256sum | cut -c1-16)
if ! stamp_ok .venv "$app_hash"; then
  log "building .venv with $PY ($($PY -V))"
  venv_for .venv
  quiet_pip .venv/bin/python -m pip install -q -c requirements/runtime.txt -c requirements/dev.txt -e ".[dev]"
  echo "$app_hash" > .venv/.netoss-stamp
fi

# The collection's Python (plugins/module_utils) is importable as ansible_collections.netoss.core
# in the app virtualenv too, for the netoss CLI and the portal: a .pth file names .collections.
purelib=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT/.collections" > "$purelib/netoss-collections.pth"

# NetBox virtualenv.
nb_hash=$( (cat requirements/netbox.txt; echo "$PY"; $PY -V) | sha256sum | cut -c1-16)
if ! stamp_ok .venv-netbox "$nb_hash"; then
  log "building .venv-netbox with $PY"
  venv_for .venv-netbox
  quiet_pip .venv-netbox/bin/python -m pip install -q -r requirements/netbox.txt
  echo "$nb_hash" > .venv-netbox/.netoss-stamp
fi
# ansible-test sanity's tools (make lint, scripts/sanity.sh): ansible-test installs them into
# virtualenvs of its own (~/.ansible/test/venv) at the versions the pinned ansible-core fixes;
# done here once per ansible-core version and Python, from PyPI, so that lint installs nothing.
core=$(.venv/bin/python -c 'import ansible.release as r; print(r.__version__)')
sanity_hash=$( (echo "$core"; echo "$PY"; $PY -V; cat scripts/ansible_test_get_pip.py) | sha256sum | cut -c1-16)
sanity_stamp=$HOME/.ansible/test/venv/.netoss-primed-$sanity_hash
if [ ! -f "$sanity_stamp" ]; then
  log "installing the tools of ansible-test sanity (ansible-core $core) into ~/.ansible/test/venv"
  prime_log=$(mktemp)
  if ! scripts/sanity.sh --prime-venvs >"$prime_log" 2>&1; then
    tail -40 "$prime_log" >&2
    rm -f "$prime_log"
    echo "bootstrap: ansible-test could not install its sanity tools (above)" >&2
    exit 1
  fi
  rm -f "$prime_log"
  touch "$sanity_stamp"
fi
log "ready: .venv ($(.venv/bin/python -V)), .venv-netbox (netbox $(.venv-netbox/bin/python -c 'import importlib.metadata as m; print(m.version("netbox"))'))"
