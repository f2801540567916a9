"""The sot_sync plan's cache of NetBox (plugins/module_utils/sot_plan_cache.py): what a run reads
again after NetBox's change log moved, and when it reads everything. The change log here is a
fake of NetBox's /api/core/object-changes/ (pure logic); tests/integration/test_sot_plan_cache.py
checks against the real NetBox that the cached records plan exactly what a full read plans."""

from __future__ import annotations

import datetime as dt
import email.utils
import os

import pytest

from ansible_collections.netoss.core.plugins.module_utils import sot_plan_cache as cache
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import NETBOX_ENDPOINT_FOR_KIND
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import UNTAGGED_ENDPOINTS

T0 = 1_800_000_000.0  # NetBox's clock at the first change, POSIX seconds


class Resp:
    def __init__(self, body, status=200, now=T0):
        self.body, self.status_code = body, status
        self.headers = {"Date": email.utils.formatdate(now, usegmt=True)}

    def json(self):
        return self.body


class ChangeLogApi:
    """A pynetbox-like api whose session answers NetBox's change log from ``changes`` (each
    with its POSIX ``at``); ``now`` is NetBox's clock (the Date header)."""

    base_url = "http://netbox.example/api"
    token = "nbt_abc.def"

    def __init__(self, changes, status=200, now=None):
        self.changes, self.status, self.calls = changes, status, []
        self.now = now if now is not None else max([c["at"] for c in changes], default=T0) + 1
        self.http_session = self
        self.headers = {}

    def get(self, url, params=None, headers=None, timeout=None):
        assert url == "http://netbox.example/api/core/object-changes/"
        self.calls.append(params)
        if self.status != 200:
            return Resp({"detail": "no"}, self.status, self.now)
        ids = [v for k, v in params if k == "id"]
        p = dict(params)
        rows = sorted(self.changes, key=lambda c: -c["id"] if p.get("ordering") == "-id" else c["id"])
        if ids:
            rows = [c for c in rows if c["id"] in ids]
        if "time_after" in p:
            since = dt.datetime.fromisoformat(p["time_after"]).timestamp()
            rows = [c for c in rows if c["at"] >= since]
        offset, limit = p.get("offset", 0), p["limit"]
        page = [{k: v for k, v in c.items() if k != "at"} for c in rows[offset : offset + limit]]
        return Resp({"results": page, "next": "more" if offset + limit < len(rows) else None}, 200, self.now)


def change(ident, action, model, oid, before=None, after=None, at=None):
    at = T0 + ident if at is None else at
    return {
        "id": ident,
        "time": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(),
        "at": at,
        "action": {"value": action},
        "changed_object_type": model,
        "changed_object_id": oid,
        "prechange_data": before,
        "postchange_data": after,
    }


def state(mark_change, records, read_at, seen=()):
    return {
        "mark": (mark_change["id"], mark_change["time"]),
        "read_at": read_at,
        "seen": list(seen),
        "records": records,
    }


def reader(records_by_kind):
    calls = []

    def read_ids(kind, ids):
        calls.append((kind, list(ids)))
        return [dict(r) for r in records_by_kind.get(kind, []) if r["id"] in ids]

    return read_ids, calls


def full(records):
    calls = []

    def read_all():
        calls.append(1)
        return {k: [dict(r) for r in v] for k, v in records.items()}

    return read_all, calls


def test_every_kind_the_plan_reads_has_its_netbox_model():
    assert set(UNTAGGED_ENDPOINTS) | set(NETBOX_ENDPOINT_FOR_KIND) <= set(cache.MODEL_OF_KIND)


def test_nothing_cached_an_empty_or_an_unreadable_change_log_reads_everything():
    read_all, calls = full({"devices": [{"id": 1, "name": "a"}]})
    first = change(5, "create", "dcim.device", 1)
    st, records, what = cache.refresh(ChangeLogApi([first]), None, read_all, None)
    assert (st["mark"], st["seen"], records["devices"][0]["name"]) == ((5, first["time"]), [5], "a")
    assert what == "full read (nothing cached)" and st["read_at"] == first["at"] + 1
    # Nothing logged yet: an ORM load (netoss fleet load) leaves no entry, so nothing is trusted.
    st, _records, what = cache.refresh(ChangeLogApi([]), state(first, {}, T0), read_all, None)
    assert st is None and what == "full read (NetBox's change log is empty)"
    st, _records, what = cache.refresh(ChangeLogApi([first], status=403), state(first, {}, T0), read_all, None)
    assert st is None and "cannot be read" in what and calls == [1, 1, 1]


def test_an_unchanged_netbox_is_not_read():
    first = change(7, "create", "dcim.device", 1)
    cached = state(first, {"devices": [{"id": 1, "name": "a"}]}, first["at"] + 1, seen=[7])
    api = ChangeLogApi([first], now=first["at"] + 3600)
    st, records, what = cache.refresh(api, cached, None, None)  # neither reader may be called
    assert (records, what) == (cached["records"], "incremental: NetBox unchanged")
    assert st["read_at"] == first["at"] + 3600 and st["seen"] == [7]
    # An hour later the overlap no longer reaches change 7: nothing left to list.
    api.now += 3600
    st, _records, _what = cache.refresh(api, st, None, None)
    assert st["seen"] == []


def test_created_and_updated_objects_are_read_again_by_id_and_untagged_ones_leave():
    old = {
        "devices": [{"id": 1, "name": "a", "description": "old"}, {"id": 2, "name": "b"}],
        "interfaces": [{"id": 10, "name": "eth0"}, {"id": 11, "name": "eth1"}],
    }
    now = {
        "devices": [{"id": 1, "name": "a", "description": "new"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}],
        "interfaces": [{"id": 10, "name": "eth0"}],  # 11 lost the managed tag: no longer read
    }
    changes = [
        change(7, "create", "dcim.device", 2),
        change(8, "update", "dcim.device", 1, {"name": "a", "description": "old"}, {"name": "a", "description": "new"}),
        change(9, "create", "dcim.device", 3, None, {"name": "c"}),
        change(10, "update", "dcim.interface", 11, {"name": "eth1", "tags": [1]}, {"name": "eth1", "tags": []}),
        change(11, "create", "extras.journalentry", 4, None, {"comments": "a kind the plan does not read"}),
    ]
    read_ids, calls = reader(now)
    cached = state(changes[0], old, changes[0]["at"] + 0.5, seen=[7])
    st, records, what = cache.refresh(ChangeLogApi(changes), cached, None, read_ids)
    assert st["mark"] == (11, changes[-1]["time"]) and st["seen"] == [7, 8, 9, 10, 11]
    assert sorted(calls) == [("devices", [1, 3]), ("interfaces", [11])]
    assert records["devices"] == now["devices"] and records["interfaces"] == [{"id": 10, "name": "eth0"}]
    assert what == "incremental: 4 changes, 3 objects read again"


def test_a_change_committed_after_the_read_though_logged_before_it_is_seen():
    """A long bulk request logs its changes as it makes them and commits at its end: a read in
    between saw a newer change of another request, not these. They are not lost."""
    first, quick = change(7, "create", "dcim.device", 1), change(9, "create", "dcim.device", 2)
    late = change(8, "update", "dcim.device", 1, {"name": "a"}, {"name": "a"}, at=first["at"] + 0.5)
    read_ids, calls = reader({"devices": [{"id": 1, "name": "a", "description": "late"}, {"id": 2, "name": "b"}]})
    # Read after 9 committed and before 8 did: the records hold 7 and 9.
    cached = state(quick, {"devices": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}, quick["at"] + 0.1, [7, 9])
    api = ChangeLogApi([first, late, quick])  # 8 committed since
    st, records, what = cache.refresh(api, cached, None, read_ids)
    assert st["mark"] == cached["mark"]  # the newest change is the same
    assert calls == [("devices", [1])] and records["devices"][0]["description"] == "late"
    assert what == "incremental: 1 changes, 1 objects read again"


@pytest.mark.parametrize(
    "last, reason",
    [
        (change(8, "delete", "dcim.interface", 10, {"name": "eth0"}, None), "dcim.interface 10 was deleted"),
        (change(8, "update", "dcim.device", 1, {"name": "a"}, {"name": "z"}), "dcim.device 1 changed its name"),
        (change(8, "update", "ipam.vrf", 3, {"name": "v"}, {"name": "w"}), "ipam.vrf 3 changed its name"),
        (change(8, "update", "dcim.site", 2, {"slug": "s"}, {"slug": "t"}), "dcim.site 2 changed its slug"),
    ],
)
def test_a_deletion_or_a_rename_reads_everything(last, reason):
    """Other objects' records show what they refer to by name: a rename makes them stale, and
    NetBox's deletions can change other objects without logging it."""
    read_all, calls = full({"devices": []})
    first = change(7, "create", "dcim.device", 1)
    st, _records, what = cache.refresh(ChangeLogApi([first, last]), state(first, {}, first["at"], [7]), read_all, None)
    assert calls == [1] and what == f"full read ({reason})" and st["mark"][0] == 8


def test_a_change_log_that_no_longer_reaches_back_or_holds_too_much_reads_everything():
    read_all, calls = full({})
    changes = [change(i, "create", "dcim.device", i) for i in range(20, 30)]
    pruned = state(change(7, "create", "dcim.device", 1), {}, T0 + 7)  # entry 7 is gone from the log
    assert "no longer holds" in cache.refresh(ChangeLogApi(changes), pruned, read_all, None)[2]
    restored = dict(state(changes[0], {}, T0 + 20), mark=(20, "another time"))  # 20 is another change
    assert "no longer holds" in cache.refresh(ChangeLogApi(changes), restored, read_all, None)[2]
    many = state(changes[0], {}, changes[0]["at"], [20])
    assert cache.refresh(ChangeLogApi(changes), many, read_all, None, max_changes=5)[2] == (
        "full read (more than 5 changes)"
    )
    assert calls == [1, 1, 1]


def test_the_cache_file_is_private_and_anything_else_is_ignored(tmp_path):
    path = cache.cache_path(str(tmp_path / "c"), "http://nb/api", "netoss-managed", {"fields": "x"})
    assert path != cache.cache_path(str(tmp_path / "c"), "http://nb/api", "other-tag", {"fields": "x"})
    assert path != cache.cache_path(str(tmp_path / "c"), "http://other/api", "netoss-managed", {"fields": "x"})
    assert cache.load(path) is None
    saved = {"mark": (5, "t"), "read_at": T0, "seen": [5], "records": {"devices": [{"id": 1, "tags": [{"slug": "x"}]}]}}
    cache.save(path, saved)
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(path)).st_mode & 0o077 == 0
    assert cache.load(path) == saved
    os.chmod(path, 0o644)  # another account could have written it
    assert cache.load(path) is None
    os.chmod(path, 0o600)
    with open(path, "wb") as f:
        f.write(b"\x00damaged")
    assert cache.load(path) is None


def test_nothing_is_cached_in_a_branch():
    class Session:
        def __init__(self, headers):
            self.headers = headers

    class Api:
        def __init__(self, headers):
            self.http_session = Session(headers)

    assert not cache.cacheable(Api({"X-NetBox-Branch": "abc123"}))
    assert cache.cacheable(Api({"Accept": "application/json"}))


def test_the_records_kept_leave_out_what_the_plan_never_reads():
    record = {"id": 3, "url": "http://nb/api/dcim/devices/3/", "display": "c", "name": "c",
              "site": {"id": 1, "url": "u", "display_url": "d", "display": "S", "slug": "s"},
              "tags": [{"id": 2, "url": "u", "slug": "netoss-managed"}]}  # fmt: skip
    assert cache.lean(record) == {"id": 3, "name": "c", "site": {"id": 1, "slug": "s"},
                                  "tags": [{"id": 2, "slug": "netoss-managed"}]}  # fmt: skip
    read_all, _calls = full({"devices": [record]})
    _st, records, _what = cache.refresh(ChangeLogApi([change(5, "create", "dcim.device", 3)]), None, read_all, None)
    assert records["devices"] == [cache.lean(record)]


def test_a_valid_intents_payloads_are_kept_for_the_same_files_tag_and_code(tmp_path):
    intent = tmp_path / "intent"
    intent.mkdir()
    (intent / "10-sites.yml").write_text("sites:\n  - name: one\n")
    built = []

    known = []

    def build(known_valid):
        built.append(1)
        known.append(known_valid)
        text = (intent / "10-sites.yml").read_text()
        if "bad" in text:
            raise ValueError("an invalid intent")
        return {"sites": [text]}, f"intent OK ({len(built)})", {text.encode()}

    where = str(tmp_path / "cache")
    first = cache.intent_objects(str(intent), "netoss-managed", where, build)
    assert first == ({"sites": ["sites:\n  - name: one\n"]}, "intent OK (1)", False)
    assert cache.intent_objects(str(intent), "netoss-managed", where, build) == (*first[:2], True)
    assert len(built) == 1
    assert cache.intent_objects(str(intent), "other-tag", where, build)[2] is False  # another tag
    assert known == [frozenset(), {b"sites:\n  - name: one\n"}]  # what the same code found valid
    (intent / "10-sites.yml").write_text("sites:\n  - name: two\n")  # another content
    assert cache.intent_objects(str(intent), "other-tag", where, build)[0] == {"sites": ["sites:\n  - name: two\n"]}
    (intent / "20-more.yml").write_text("tags: []\n")  # another file
    assert cache.intent_objects(str(intent), "other-tag", where, build)[2] is False
    (intent / "10-sites.yml").write_text("bad\n")
    for _ in range(2):  # an invalid intent is never kept: each run says what is wrong
        with pytest.raises(ValueError):
            cache.intent_objects(str(intent), "other-tag", where, build)
    assert len(built) == 6
    (intent / "10-sites.yml").write_text("sites:\n  - name: one\n")
    assert cache.intent_objects(str(intent), "other-tag", None, build)[2] is False  # nothing kept without a cache
