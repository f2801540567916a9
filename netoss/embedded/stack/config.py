"""Where a netoss stack lives: its state directory, ports, programs and secrets.

A stack is everything `make up` runs: PostgreSQL, Redis, NetBox (gunicorn and its
rqworker), later the portal, all under one supervisord.  Two stacks on one machine
(the one from `make up` and the one a test run starts) differ by state directory and
port base, so they never touch each other.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_PORT_BASE = 17000
NETBOX_VERSION = "4.7.3"
# NetBox Labs' branching plugin (requirements/netbox.txt pins it; under NetBox Labs' own licence,
# installed from PyPI into NetBox's virtualenv, never shipped with netoss): GitOps plans a change
# in a NetBox branch, applies it by merging the branch, rolls it back by reverting the merge.
NETBOX_BRANCHING_VERSION = "1.2.2"
# What NetBox's database schema depends on: the key of the cached migrated database.
NETBOX_SCHEMA = f"{NETBOX_VERSION}-branching-{NETBOX_BRANCHING_VERSION}"

# Offsets from the port base, chosen so the last digits recall the usual ports.
PORT_OFFSETS = {
    "postgres": 432,
    "redis": 379,
    "netbox": 80,
    "portal": 81,
    "syslog": 514,
    "snmptrap": 162,
    # Service assurance (docs/assurance.md), on loopback.
    "prometheus": 90,
    "alertmanager": 93,
    "snmp-exporter": 116,
    "assurance": 117,
}


def default_cache_dir() -> Path:
    """Where the migrated NetBox dump is kept between stacks: outside the checkout."""
    if os.environ.get("NETOSS_CACHE"):
        return Path(os.environ["NETOSS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netoss"


# The lab's files below Stack.lab_dir that the stack shares with the portal's account.
LAB_CREDENTIALS = "credentials.json"
LAB_RECORD = "built.json"


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range of local ports for outgoing connections (Linux's default when unread)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2]
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


class StackError(RuntimeError):
    """A stack operation failed; the message says what and how to fix it."""


def _token(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_secrets() -> dict[str, str]:
    """Fresh random credentials for a new stack (kept in the state dir, mode 0600)."""
    return {
        "postgres_password": _token(32),
        "netbox_db_password": _token(32),
        "redis_password": _token(32),
        "netbox_secret_key": _token(60, string.ascii_letters + string.digits + "!@#$%^&*(-_=+)"),
        "netbox_pepper": _token(64),
        "admin_user": "admin",
        "admin_password": _token(20),
        "netbox_token_key": _token(12),
        "netbox_token_secret": _token(40),
        **new_portal_secrets(),
        **new_machine_secrets(),
    }


# NetBox's machine users (each with only the object permissions it needs, see stack.netbox):
# user name, and the secrets.json prefix of its v2 token (<prefix>_key, <prefix>_secret).
MACHINE_USERS = {
    "reader": ("netoss-reader", "netbox_reader_token"),  # portal.json, the portal's CLI tools: view only
    "web": ("netoss-web", "netbox_web_token"),  # the portal's web tier: view, add journal entries
    "faults": ("netoss-faults", "netbox_faults_token"),  # the fault processor: view, add journal entries
    "writer": ("netoss-writer", "netbox_writer_token"),  # jobs and seeding: the network's objects
}


def new_machine_secrets() -> dict[str, str]:
    """The v2 tokens of NetBox's machine users (added to the secrets of a stack made before them)."""
    values = {}
    for _user, prefix in MACHINE_USERS.values():
        values[f"{prefix}_key"] = _token(12)
        values[f"{prefix}_secret"] = _token(40)
    return values


def new_portal_secrets() -> dict[str, str]:
    """The portal's credentials (added to the secrets of a stack made before the portal existed)."""
    return {
        "portal_db_password": _token(32),
        "portal_secret_key": _token(64),
        "portal_admin_password": _token(20),
        # An API token in the portal's format (nto_<prefix>_<secret>); the portal stores its hash.
        "portal_admin_token": f"nto_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}",
        # The token of the `automation` account (operator): what playbooks, portal jobs and
        # their callback use to raise alarms and open tickets; never the admin's.
        "portal_automation_token": f"nto_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}",
        # The SNMPv2c community the fault receiver accepts traps with, and service assurance
        # polls the devices with (a shared secret; the lab's routers are given it).
        "snmp_community": _token(16),
        # Service assurance (docs/assurance.md): basic authentication of Prometheus, Alertmanager,
        # snmp_exporter and the lab's probes (user netoss); the bearer token Prometheus reads the
        # inventory series with; the portal token Alertmanager posts alerts with.
        "assurance_password": _token(24),
        "assurance_inventory_token": _token(40),
        "portal_alertmanager_token": f"nto_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}",
    }


def gunicorn_tls_args(directory: Path) -> list[str]:
    """gunicorn's arguments to serve over TLS with a service's copy of the stack's server
    certificate and key in ``directory`` (netoss.embedded.stack.tls.copy_key)."""
    return ["--certfile", str(directory / "server.crt"), "--keyfile", str(directory / "server.key")]


@dataclass
class Stack:
    """One stack: a state directory plus the port base its services listen on."""

    state_dir: Path
    port_base: int = DEFAULT_PORT_BASE
    repo: Path = REPO_ROOT
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())

    @classmethod
    def from_env(cls) -> Stack:
        """The stack named by NETOSS_STATE (default <repo>/.state).

        The port base comes from NETOSS_PORT_BASE, else from the stack's own record
        (written by the first `up`), else the default 17000.
        """
        state = Path(os.environ.get("NETOSS_STATE") or REPO_ROOT / ".state").resolve()
        base = os.environ.get("NETOSS_PORT_BASE")
        if base is None:
            recorded = state / "stack.json"
            if recorded.exists():
                base = json.loads(recorded.read_text())["port_base"]
        try:
            port_base = int(base) if base is not None else DEFAULT_PORT_BASE
        except ValueError:
            raise StackError(f"NETOSS_PORT_BASE must be an integer, got {base!r}") from None
        if not 1024 <= port_base <= 64000:
            raise StackError(f"NETOSS_PORT_BASE must be between 1024 and 64000, got {port_base}")
        return cls(state_dir=state, port_base=port_base)

    @property
    def demo_intent(self) -> Path:
        return self.repo / "inventory" / "intent"

    @property
    def intent_dir(self) -> Path:
        """Where this stack's intent is (a directory of YAML files, or one file): NETOSS_INTENT,
        else what `netoss up --intent` recorded for the stack, else the repository's demo.

        Everything that reads the intent takes it from here: `up`'s seeding, `netoss env` (which
        exports it as NETOSS_INTENT for playbooks/sot_sync.yml) and the workers' jobs.
        """
        if os.environ.get("NETOSS_INTENT"):
            return Path(os.environ["NETOSS_INTENT"]).expanduser().resolve()
        return self.recorded_intent

    @property
    def recorded_intent(self) -> Path:
        """The intent recorded for the stack (by `up`), else the demo; what its workers' jobs read
        (not the NETOSS_INTENT the workers may have inherited when they started)."""
        recorded = self._recorded().get("intent")
        return Path(recorded) if recorded else self.demo_intent

    def set_intent(self, path: Path) -> Path:
        """Record ``path`` as this stack's intent; StackError when it holds no intent file."""
        path = Path(path).expanduser().resolve()
        if path.is_dir():
            if not any(path.glob("*.yml")) and not any(path.glob("*.yaml")):
                raise StackError(f"intent {path}: the directory has no *.yml or *.yaml file")
        elif not path.is_file():
            raise StackError(f"intent {path}: no such file or directory")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_record({**self._recorded(), "intent": str(path)})
        return path

    @property
    def listen(self) -> str | None:
        """The address other hosts reach this stack at (`netoss up --listen`), or None: the
        stack then serves PostgreSQL, Redis, NetBox's API and the portal there too, over TLS
        only (docs/scaling.md)."""
        return self._recorded().get("listen") or None

    def set_listen(self, address: str | None) -> str | None:
        """Record the address other hosts reach the stack at (None: loopback only);
        StackError when it is not a unicast address of this kind."""
        if address in (None, "", "none"):
            address = None
        else:
            try:
                ip = ipaddress.ip_address(str(address).strip())
            except ValueError:
                raise StackError(f"--listen {address!r}: not an IP address") from None
            if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
                raise StackError(
                    f"--listen {ip}: name the address other hosts reach this one at "
                    "(not loopback, 0.0.0.0, multicast or link-local)"
                )
            address = str(ip)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        values = {k: v for k, v in self._recorded().items() if k != "listen"}
        self._write_record({**values, **({"listen": address} if address else {})})
        return address

    @property
    def tls_dir(self) -> Path:
        """The stack's CA and server certificate for other hosts (netoss.embedded.stack.tls)."""
        return self.state_dir / "tls"

    @property
    def redis_socket(self) -> Path:
        """Where Redis listens for this host's programs when the stack listens for others (its
        TCP port then speaks TLS only)."""
        return self.state_dir / "redis-socket" / "redis.sock"

    def redis_url(self, db: int) -> str:
        """Database ``db`` of the stack's Redis as this host's programs reach it: loopback TCP,
        or the Unix socket when the stack listens for other hosts (its TCP port then speaks TLS)."""
        password = self.load_secrets()["redis_password"]
        if self.listen:
            return f"unix://:{password}@{self.redis_socket}?db={db}"
        return f"redis://:{password}@127.0.0.1:{self.port('redis')}/{db}"

    def _recorded(self) -> dict:
        recorded = self.state_dir / "stack.json"
        return json.loads(recorded.read_text()) if recorded.exists() else {}

    def _write_record(self, values: dict) -> None:
        tmp = self.state_dir / "stack.json.tmp"
        tmp.write_text(json.dumps(values) + "\n")
        tmp.replace(self.state_dir / "stack.json")

    # --- ports and addresses -------------------------------------------------
    def port(self, service: str) -> int:
        return self.port_base + PORT_OFFSETS[service]

    def ephemeral_ports(self, span: tuple[int, int] | None = None) -> list[int]:
        """The stack's ports inside the kernel's ephemeral range (``span``, else this machine's
        net.ipv4.ip_local_port_range), lowest first."""
        low, high = span or ephemeral_range()
        return sorted(p for p in (self.port(s) for s in PORT_OFFSETS) if low <= p <= high)

    def ephemeral_warning(self, span: tuple[int, int] | None = None) -> str | None:
        """What `up` says when some of the stack's ports lie in the ephemeral range, where an
        outgoing connection's local port can hold one at the moment its service binds it."""
        low, high = span or ephemeral_range()
        ports = self.ephemeral_ports((low, high))
        if not ports:
            return None
        names = {self.port(s): s for s in PORT_OFFSETS}
        return (
            f"warning: port base {self.port_base} puts "
            + ", ".join(f"{p} ({names[p]})" for p in ports)
            + f" in the kernel's ephemeral range ({low}-{high}), where an outgoing connection can hold a"
            " port when its service starts; choose a base whose ports stay below it (NETOSS_PORT_BASE)"
        )

    @property
    def netbox_url(self) -> str:
        return f"http://127.0.0.1:{self.port('netbox')}"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.port('portal')}"

    # --- paths -----------------------------------------------------------------
    @property
    def venv(self) -> Path:
        return self.repo / ".venv"

    @property
    def netbox_venv(self) -> Path:
        return self.repo / ".venv-netbox"

    @property
    def lab_dir(self) -> Path:
        """Where the lab (netoss.embedded.lab) keeps its files: its record, its device login."""
        return self.state_dir / "lab"

    @property
    def lab_shared_files(self) -> list[Path]:
        """The lab's files the portal's jobs read (the device login and the lab's record): readable by
        the service account's group, still root's (netoss.embedded.stack.accounts.share)."""
        return [self.lab_dir / LAB_CREDENTIALS, self.lab_dir / LAB_RECORD]

    @property
    def ansible_home(self) -> Path:
        """HOME of the playbooks netoss runs: its .ssh/known_hosts pins the lab routers' host keys."""
        return self.state_dir / "home"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def netbox_root(self) -> Path:
        return self.state_dir / "netbox"

    @property
    def supervisor_dir(self) -> Path:
        return self.state_dir / "supervisor"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"

    def record(self) -> None:
        """Remember the port base so later commands find the stack without env vars."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_record({**self._recorded(), "port_base": self.port_base})

    def load_secrets(self, create: bool = False) -> dict[str, str]:
        """The stack's credentials; created on first use when ``create`` is true."""
        if self.secrets_file.exists():
            values = json.loads(self.secrets_file.read_text())
            added = {**new_portal_secrets(), **new_machine_secrets()}
            missing = {k: v for k, v in added.items() if k not in values}
            if missing and create:
                values.update(missing)
                write_private(self.secrets_file, json.dumps(values, indent=2) + "\n")
            return values
        if not create:
            raise StackError(f"no stack in {self.state_dir} (no secrets.json): run `make up` first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        values = new_secrets()
        write_private(self.secrets_file, json.dumps(values, indent=2) + "\n")
        return values

    def netbox_token(self) -> str:
        """The NetBox admin's token (a superuser): for `netoss env` and administration only."""
        s = self.load_secrets()
        return f"nbt_{s['netbox_token_key']}.{s['netbox_token_secret']}"

    def machine_token(self, role: str) -> str:
        """The v2 token of NetBox's machine user ``role`` (a key of MACHINE_USERS)."""
        s = self.load_secrets()
        prefix = MACHINE_USERS[role][1]
        if f"{prefix}_key" not in s:
            raise StackError(f"{self.secrets_file} has no {prefix}_key: run `make up` to add the machine users")
        return f"nbt_{s[f'{prefix}_key']}.{s[f'{prefix}_secret']}"

    def netbox_reader_token(self) -> str:
        """Read-only NetBox token (user netoss-reader): the one in portal.json."""
        return self.machine_token("reader")

    def netbox_web_token(self) -> str:
        """NetBox token of the portal's web tier (user netoss-web): read, and add journal entries
        (a ticket opened or changed through the API is journalled on its devices)."""
        return self.machine_token("web")

    def netbox_faults_token(self) -> str:
        """NetBox token of the fault processor (user netoss-faults): read, and add journal entries."""
        return self.machine_token("faults")

    def netbox_writer_token(self) -> str:
        """NetBox token of the jobs that write (user netoss-writer): sot_sync, service orders, journal."""
        return self.machine_token("writer")


def web_config(user: str, password: str, previous: Path | None = None) -> str:
    """A web configuration of Prometheus' exporter toolkit (Prometheus, Alertmanager, the
    exporters): basic authentication of ``user`` by the bcrypt hash of ``password``. The hash
    already in ``previous`` is kept when it still matches: a rewrite changes no byte."""
    import bcrypt  # only where a stack or a lab is built

    hashed = None
    if previous is not None and previous.exists():
        for line in previous.read_text().splitlines():
            if line.strip().startswith(f"{user}:"):
                old = line.split(":", 1)[1].strip().strip("'")
                if bcrypt.checkpw(password.encode(), old.encode()):
                    hashed = old
    hashed = hashed or bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    return f"basic_auth_users:\n  {user}: '{hashed}'\n"


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
