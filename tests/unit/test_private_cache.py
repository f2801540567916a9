"""The private cache files (plugins/module_utils/private_cache.py) of the plan, the intent and the
inventory plugin: written atomically and privately, read back only when they are ours."""

from __future__ import annotations

import gc
import os

from ansible_collections.netoss.core.plugins.module_utils import private_cache


def test_what_is_written_is_read_back(tmp_path):
    where = private_cache.path(str(tmp_path / "cache"), "plan", {"url": "http://nb", "tag": "t"})
    data = {"records": [{"id": i, "name": f"r{i}", "tags": [{"slug": "t"}]} for i in range(1000)], "at": 1.5}
    private_cache.write(where, 3, data)
    assert private_cache.read(where, 3) == data
    assert os.stat(where).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(where)).st_mode & 0o777 == 0o700
    assert os.path.basename(where).startswith("plan-")
    assert where != private_cache.path(str(tmp_path / "cache"), "plan", {"url": "http://nb", "tag": "u"})


def test_another_version_a_damaged_file_or_one_others_could_write_is_not_read(tmp_path):
    where = str(tmp_path / "c.cache")
    assert private_cache.read(where, 1) is None  # no such file
    private_cache.write(where, 1, {"a": 1})
    assert private_cache.read(where, 2) is None
    with open(where, "r+b") as f:
        f.truncate(10)
    assert private_cache.read(where, 1) is None
    assert gc.isenabled()  # paused while decoding, whatever the file held
    private_cache.write(where, 1, {"a": 1})
    os.chmod(where, 0o644)
    assert private_cache.read(where, 1) is None


def test_the_collector_is_left_as_it_was(tmp_path):
    where = str(tmp_path / "c.cache")
    private_cache.write(where, 1, [1, 2])
    gc.disable()
    try:
        assert private_cache.read(where, 1) == [1, 2]
        assert not gc.isenabled()
    finally:
        gc.enable()
