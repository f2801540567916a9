# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files netoss writes on the controller (rendered configs, backups): atomic, private, diffable."""

from __future__ import annotations

import os
import tempfile


def read(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_if_changed(path, text, check_mode=False, mode=0o640):
    """Write ``text`` to ``path`` atomically unless it already holds it; returns (changed, before).
    A file this account may not read (another account's private file, such as a pre-push
    backup root's playbook left in a shared directory) is replaced like a changed one."""
    try:
        before = read(path)
    except PermissionError:
        before = None
    if before == text:
        return False, before
    if not check_mode:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, mode=0o750, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return True, before
