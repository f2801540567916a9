# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The order journal: every NetBox write of an order (created, updated, deleted), in order.

The :class:`Writer` journals each write as it makes it, and the :class:`Journal` is saved
after each one, so :func:`rollback` undoes exactly what was done, even from a later process.
"""

from __future__ import annotations

import contextlib
import json
import os

from ansible_collections.netoss.core.plugins.module_utils import files
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint
from ansible_collections.netoss.core.plugins.module_utils.service_model import OrderError


class Journal:
    """The writes of one order, in order: saved to ``path`` (JSON) after each one."""

    def __init__(self, path=None, entries=None):
        self.path = path
        self.entries = list(entries or [])

    @classmethod
    def load(cls, path):
        text = files.read(path)
        return cls(path, json.loads(text)["entries"] if text else [])

    def add(self, entry):
        self.entries.append(entry)
        self.save()

    def save(self):
        if self.path:
            files.write_if_changed(self.path, json.dumps({"entries": self.entries}, indent=1) + "\n", mode=0o600)

    def discard(self):
        self.entries = []
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class Writer:
    """Creates, updates and deletes NetBox records, journaling each so it can be undone."""

    def __init__(self, api, journal):
        self.api = api
        self.journal = journal

    def create(self, endpoint, payload, label):
        return self.created(endpoint, netbox_endpoint(self.api, endpoint).create(payload), label)

    def created(self, endpoint, record, label):
        """Journal a record NetBox created (by ``create``, or by an available-prefixes request)."""
        self.journal.add({"op": "created", "endpoint": endpoint, "id": record.id, "label": label})
        return record

    def update(self, endpoint, record_id, changes, before, label):
        netbox_endpoint(self.api, endpoint).update([dict(changes, id=record_id)])
        self.journal.add({"op": "updated", "endpoint": endpoint, "id": record_id, "before": before, "label": label})

    def delete(self, endpoint, record, payload, label):
        """Delete ``record``; ``payload`` is what recreates it on rollback."""
        netbox_endpoint(self.api, endpoint).delete([record["id"]])
        self.journal.add(
            {"op": "deleted", "endpoint": endpoint, "id": record["id"], "payload": payload, "label": label}
        )


def rollback(api, journal, log=None):
    """Undo the journal's writes, newest first; returns what was undone (labels).

    Every entry is tried; the ones NetBox refuses are reported together at the end
    (OrderError), and stay in the journal so a later rollback can finish the job.
    """
    undone, failed, left = [], [], []
    for entry in reversed(journal.entries):
        endpoint = netbox_endpoint(api, entry["endpoint"])
        try:
            if entry["op"] == "created":
                record = endpoint.get(entry["id"])
                if record is not None:
                    record.delete()
            elif entry["op"] == "updated":
                endpoint.update([dict(entry["before"], id=entry["id"])])
            elif entry["op"] == "deleted":
                endpoint.create(entry["payload"])
            undone.append(
                "%s %s"
                % ({"created": "deleted", "updated": "restored", "deleted": "recreated"}[entry["op"]], entry["label"])
            )
            if log:
                log(undone[-1])
        except Exception as exc:  # pynetbox RequestError, connection errors: report them all
            failed.append("%s: %s" % (entry["label"], str(exc)[:300]))
            left.insert(0, entry)
    journal.entries = left
    journal.save()
    if failed:
        raise OrderError(["rollback left %d change(s) in NetBox: %s" % (len(failed), "; ".join(failed))])
    journal.discard()
    return undone
