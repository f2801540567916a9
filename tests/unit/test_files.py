"""Files netoss writes on the controller (plugins/module_utils/files.py)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from ansible_collections.netoss.core.plugins.module_utils.files import read, write_if_changed

NOBODY = 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to act as another account")
def test_a_private_file_of_another_account_is_replaced_not_a_permission_error():
    """A root playbook left pe1.cfg (0600) in a directory the portal's account shares; that
    account's job must still write its own (the service order's push failed with EACCES)."""
    directory = tempfile.mkdtemp(prefix="netoss-files-")
    try:
        os.chown(directory, NOBODY, NOBODY)  # the account's shared directory
        path = os.path.join(directory, "pe1.cfg")
        write_if_changed(path, "root's\n", mode=0o600)
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
        try:
            with pytest.raises(PermissionError):
                read(path)
            assert write_if_changed(path, "the job's\n", mode=0o600) == (True, None)
            assert read(path) == "the job's\n"
        finally:
            os.seteuid(0)
            os.setegid(0)
        assert os.stat(path).st_uid == NOBODY and os.stat(path).st_mode & 0o777 == 0o600
    finally:
        shutil.rmtree(directory)
