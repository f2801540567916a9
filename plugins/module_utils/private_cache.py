# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cache files of the controller's account: Python's ``marshal`` format (plain data only: it
cannot hold code; about ten times faster than JSON for 100,000 records), of this Python version,
written atomically and readable by their owner only; a file anybody else could have written is
not read. Used by the inventory plugin (netbox_inventory_read) and the plan (sot_plan_cache)."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
import tempfile

from ansible_collections.netoss.core.plugins.module_utils import collector


def path(cache_dir, prefix, identity):
    """The file in ``cache_dir`` of what ``identity`` (plain data: what the cached data depends on)
    names: ``<prefix>-<hash>.cache``."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    return os.path.join(cache_dir, "%s-%s.cache" % (prefix, digest))


def read(path, version):
    """The data written by :func:`write` with ``version`` in ``path``, or None: no such file, not
    our own private file, damaged, or of another version or Python."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                return None  # only a file of our own that nobody else could have written
            # Read whole, then decoded: marshal.load() on a file reads it in small pieces, ten
            # times slower for a cache of 20,000 records.
            blob = f.read()
    except OSError:
        return None
    try:
        with collector.paused():  # plain data, no cycles: the collector sweeping it as it grows is wasted time
            data = marshal.loads(blob)  # noqa: S302 (plain data: marshal holds no code; our own 0600 file)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("version") != version or data.get("python") != _python():
        return None
    return data.get("data")


def write(path, version, data):
    """Write ``data`` (plain data) to ``path`` atomically, mode 0600, in a 0700 directory."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".cache-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps({"version": version, "python": _python(), "data": data}))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _python():
    return list(sys.version_info[:2])
