"""A twin of the lab: a throwaway lab built from a NetBox branch, beside the running one, for
the GitOps rehearsal (netoss.domain.gitops.rehearse).

It is the lab (netoss.embedded.lab) with names of its own, derived from the stack's state
directory so that two stacks' twins never meet (namespaces ``t<4 hex>-<device>``, bridge
``netoss-t<4 hex>``, account ``netopst<4 hex>``), a management subnet of its own (each router keeps its
host number: NetBox's 198.18.72.11/26 becomes 198.18.254.11/24 in the default subnet), its own
state directory (``<state>/twin``: its login, its pinned host keys, its record) and no syslog
relay: nothing a twin router says reaches the fault pipeline, and nothing is written to NetBox.
One twin at a time per stack (a lock); a twin left by a rehearsal that died is taken down before
the next one is built, and every twin is taken down when its rehearsal ends, however it ends.

Building one needs root (namespaces, veths, a bridge), as the lab does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import ipaddress
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from netoss.embedded import lab
from netoss.embedded.lab.spec import LabConfig, LabError, LabSpec
from netoss.embedded.stack.config import Stack, write_private

DEFAULT_SUBNET = "198.18.254.0/24"


def names(stack: Stack) -> LabConfig:
    """The twin's names for ``stack``: its own, whatever other stack runs on the host."""
    tag = hashlib.sha256(str(stack.state_dir.resolve()).encode()).hexdigest()[:4]
    return LabConfig(ns_prefix=f"t{tag}-", bridge=f"netoss-t{tag}", user=f"netopst{tag}")


@dataclass
class Twin:
    stack: Stack  # the twin's own: its state directory is <stack state>/twin
    spec: LabSpec

    @property
    def routers(self) -> list[str]:
        return [r.name for r in self.spec.routers]

    @property
    def skipped(self) -> dict[str, str]:
        return dict(self.spec.skipped)

    def inventory(self) -> Path:
        """An inventory source to give after NetBox's: each twin router's ansible_host is its
        address in the twin (a later source's host variables win)."""
        path = self.stack.state_dir / "twin-inventory.yml"
        hosts = {r.name: {"ansible_host": str(r.mgmt_ip.ip)} for r in self.spec.routers}
        write_private(path, "# The twin's routers (netoss.embedded.twin)\n" + yaml.safe_dump({"all": {"hosts": hosts}}))
        return path

    def env(self) -> dict[str, str]:
        """The environment of a playbook on the twin: its login, its pinned host keys (HOME)."""
        env = lab.device_env(self.stack)
        return {**env, "HOME": str(self.stack.ansible_home), "NETOSS_STATE": str(self.stack.state_dir)}

    def management(self) -> dict[str, list[str]]:
        """Each router's management subnets (NetBox's and the twin's): routes to them are not
        part of what a change does."""
        nets = [str(self.spec.mgmt_prefix)] + ([str(self.spec.moved_from)] if self.spec.moved_from else [])
        return {r.name: nets for r in self.spec.routers}


def _check_subnet(subnet: str, bridge: str) -> None:
    """The twin's subnet must not be one the host already routes (another lab, a real network)."""
    net = ipaddress.IPv4Network(subnet)
    out = subprocess.run(["ip", "-j", "-4", "route", "show"], capture_output=True, text=True, check=True)
    for route in json.loads(out.stdout or "[]"):
        dst = route.get("dst")
        if not dst or dst == "default":
            continue
        try:
            other = ipaddress.IPv4Network(dst, strict=False)
        except ValueError:
            continue
        if other.overlaps(net) and route.get("dev") != bridge:
            raise LabError(
                f"the twin's management subnet {net} overlaps {other}, which this host routes via {route.get('dev')}: "
                "give another (--twin-subnet)"
            )


@contextlib.contextmanager
def twin(stack: Stack, api, subnet: str = DEFAULT_SUBNET, log: Callable[[str], None] = print) -> Iterator[Twin]:
    """A twin built from what ``api`` reads (a NetBox branch's pynetbox API), taken down at the end."""
    root = stack.state_dir / "twin"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    twin_stack = dataclasses.replace(stack, state_dir=root)
    with open(root / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError(f"another rehearsal is running on this stack (its twin is in {root})") from None
        if (twin_stack.lab_dir / "built.json").exists():
            log("twin: a twin left by an earlier rehearsal is taken down first")
            lab.down(twin_stack, log)
        config = dataclasses.replace(names(stack), mgmt_subnet=subnet)
        _check_subnet(subnet, config.bridge)
        try:
            spec = lab.up(twin_stack, api, config, log, twin=True)
            yield Twin(twin_stack, spec)
        finally:
            lab.down(twin_stack, log)
