"""The embedded default deployment as a whole: the stack (PostgreSQL, Redis, NetBox, the portal
and its daemons under supervisord) with the lab on top of it. What acts on both lives here, above
``netoss.embedded.stack`` and ``netoss.embedded.lab``, so that neither imports the other's way up."""

from __future__ import annotations

import shutil

from netoss.embedded import lab
from netoss.embedded.stack import Stack, down


def wipe(stack: Stack) -> None:
    """Take the lab down, stop the stack and delete everything it keeps (tests and benchmarks start clean).

    The migrated-database cache is kept: it lives outside the state directory.
    """
    if not stack.state_dir.exists():
        return
    lab.down(stack, log=lambda _msg: None)
    down(stack, log=lambda _msg: None)
    pg = stack.state_dir / "postgres"
    if pg.is_symlink():  # the cluster lives outside the state directory (see postgres.data_dir)
        shutil.rmtree(pg.resolve(), ignore_errors=True)
    shutil.rmtree(stack.state_dir)
