"""Service assurance in the stack: Prometheus, Alertmanager and snmp_exporter (Debian's
packages) run by its supervisord as the portal's account, on loopback, each behind basic
authentication; and netoss's own assurance daemon, which keeps their targets and NetBox's
info series (netoss.daemons.assurance). docs/assurance.md.

``configure`` writes their configuration below <state>/assurance from the assurance policy
(``assurance/*.yml``, or NETOSS_ASSURANCE_POLICY) and the stack's secrets:

    config/prometheus.yml      scrape jobs (devices through snmp_exporter, probes, inventory),
                               rule file, Alertmanager
    config/rules.yml           recording rules and one alerting rule per threshold
    config/alertmanager.yml    every alert to the portal's webhook, with the portal token
    config/snmp.yml            snmp_exporter's modules, with the SNMP community (mode 0600)
    config/web.yml             basic authentication (the password's bcrypt hash)
    config/*.secret            what Prometheus and Alertmanager read their credentials from
    targets/*.json             file-SD targets, written by the assurance daemon
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from netoss.embedded.stack import accounts
from netoss.embedded.stack.config import Stack, StackError, web_config, write_private
from netoss.embedded.stack.supervisor import Program

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
SNMP_EXPORTER = "/usr/bin/prometheus-snmp-exporter"
USER = "netoss"  # the basic-authentication user of every assurance engine
RETENTION = "15d"
PROGRAMS = ("prometheus", "alertmanager", "snmp-exporter", "assurance")


def root(stack: Stack) -> Path:
    return stack.state_dir / "assurance"


def policy_dir(stack: Stack) -> Path:
    """The assurance policy the stack applies: NETOSS_ASSURANCE_POLICY, else the checkout's."""
    chosen = os.environ.get("NETOSS_ASSURANCE_POLICY")
    return Path(chosen).expanduser().resolve() if chosen else stack.repo / "assurance"


def catalog_path(stack: Stack) -> Path:
    """The service catalog whose objectives the probes are held to (as the portal's)."""
    chosen = os.environ.get("NETOSS_SERVICE_CATALOG")
    return Path(chosen).expanduser().resolve() if chosen else stack.repo / "services" / "catalog.yml"


def prometheus_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.port('prometheus')}"


def _policy(stack: Stack):
    from netoss.domain.assurance import policy  # only where the stack is configured

    try:
        return policy.load(policy_dir(stack))
    except policy.PolicyError as exc:
        raise StackError(str(exc)) from None


def prometheus_config(stack: Stack, pol, config: Path, targets: Path) -> dict:
    from netoss.domain.assurance.policy import INVENTORY_JOB, PROBE_JOB, SNMP_JOB

    auth = {"username": USER, "password_file": str(config / "assurance.secret")}
    return {
        "global": {
            "scrape_interval": pol.scrape_interval,
            "evaluation_interval": pol.scrape_interval,
            "scrape_timeout": f"{min(10, int(_seconds(pol.scrape_interval) * 0.8)) or 1}s",
        },
        "rule_files": [str(config / "rules.yml")],
        "alerting": {
            "alertmanagers": [
                {"basic_auth": auth, "static_configs": [{"targets": [f"127.0.0.1:{stack.port('alertmanager')}"]}]}
            ]
        },
        "scrape_configs": [
            {
                "job_name": "prometheus",
                "basic_auth": auth,
                "static_configs": [{"targets": [f"127.0.0.1:{stack.port('prometheus')}"]}],
            },
            {
                # Every device NetBox lists: snmp_exporter polls it with its platform's module.
                "job_name": SNMP_JOB,
                "metrics_path": "/snmp",
                "basic_auth": auth,
                "file_sd_configs": [{"files": [str(targets / "snmp.json")], "refresh_interval": "30s"}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["device"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{stack.port('snmp-exporter')}"},
                ],
            },
            {
                # Every active service: ICMP from the probe of its PE to the customer's address.
                "job_name": PROBE_JOB,
                "metrics_path": "/probe",
                "scrape_interval": pol.probe_interval,
                "scrape_timeout": f"{max(1, min(5, int(_seconds(pol.probe_interval) * 0.8)))}s",
                "params": {"module": ["icmp"]},
                "basic_auth": {"username": USER, "password_file": str(config / "probe.secret")},
                "file_sd_configs": [{"files": [str(targets / "probes.json")], "refresh_interval": "30s"}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["service"], "target_label": "instance"},
                    {"source_labels": ["__probe_source"], "target_label": "__address__"},
                ],
            },
            {
                # NetBox's names of what is measured (netoss_*_info, objectives).
                "job_name": INVENTORY_JOB,
                "authorization": {"credentials_file": str(config / "inventory.secret")},
                "static_configs": [{"targets": [f"127.0.0.1:{stack.port('assurance')}"]}],
            },
        ],
    }


def _seconds(duration: str) -> float:
    from netoss.domain.assurance.policy import seconds

    return seconds(duration)


def alertmanager_config(stack: Stack, config: Path) -> dict:
    """Every alert to the portal's Alertmanager webhook, which raises and clears the alarms
    (the fault pipeline dedupes, correlates and opens tickets); grouped per alert, sent at once."""
    return {
        "route": {
            "receiver": "netoss",
            "group_by": ["..."],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "netoss",
                "webhook_configs": [
                    {
                        "url": f"{stack.portal_url}/api/v1/faults/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials_file": str(config / "portal.secret")}},
                    }
                ],
            }
        ],
    }


def configure(stack: Stack, user: str) -> str:
    """Write every engine's configuration (see the module docstring); return their digest, which
    the programs carry so that `up` restarts them when it changed."""
    from netoss.domain.assurance import policy, snmp

    pol = _policy(stack)
    s = stack.load_secrets(create=True)
    base = root(stack)
    config, targets = base / "config", base / "targets"
    for path in (base, config, targets, base / "prometheus", base / "alertmanager"):
        path.mkdir(parents=True, exist_ok=True)
    web = config / "web.yml"
    files = {
        web: web_config(USER, s["assurance_password"], previous=web),
        config / "assurance.secret": s["assurance_password"],
        config / "probe.secret": s["assurance_password"],
        config / "inventory.secret": s["assurance_inventory_token"],
        config / "portal.secret": s["portal_alertmanager_token"],
        config / "snmp.yml": yaml.safe_dump(
            snmp.config(pol.snmp_platforms, pol.snmp_default, s["snmp_community"]), sort_keys=False
        ),
        config / "rules.yml": yaml.safe_dump(policy.rules(pol), sort_keys=False, width=1000),
        config / "prometheus.yml": yaml.safe_dump(prometheus_config(stack, pol, config, targets), sort_keys=False),
        config / "alertmanager.yml": yaml.safe_dump(alertmanager_config(stack, config), sort_keys=False),
    }
    digest = hashlib.sha256()
    for path, text in files.items():
        digest.update(f"{path.name}\0{text}\0".encode())
        if not path.exists() or path.read_text() != text:
            write_private(path, text)
    for name in ("snmp.json", "probes.json"):
        if not (targets / name).exists():
            write_private(targets / name, "[]\n")
    if user != "root" and accounts.exists(user):
        accounts.give(base, user, recursive=True)
    return digest.hexdigest()[:16]


def daemon_env(stack: Stack) -> dict[str, str]:
    """What the assurance daemon (`netoss assurance serve`) reads besides the portal's config."""
    base = root(stack)
    return {
        "NETOSS_ASSURANCE_TARGETS": str(base / "targets"),
        "NETOSS_ASSURANCE_LISTEN": f"127.0.0.1:{stack.port('assurance')}",
        "NETOSS_ASSURANCE_TOKEN_FILE": str(base / "config" / "inventory.secret"),
        "NETOSS_SERVICE_CATALOG": str(catalog_path(stack)),
        "NETOSS_ASSURANCE_POLICY": str(policy_dir(stack)),
    }


def programs(stack: Stack, user: str, digest: str, env: dict[str, str]) -> list[Program]:
    """Prometheus, Alertmanager, snmp_exporter and the assurance daemon; ``env`` is the portal's
    programs' environment (its configuration, NetBox)."""
    base = root(stack)
    config = base / "config"
    web = f"--web.config.file={config / 'web.yml'}"
    marker = {"NETOSS_CONFIG_DIGEST": digest}
    return [
        Program(
            name="prometheus",
            user=user,
            autostart=False,
            priority=400,
            startsecs=2,
            stopwaitsecs=30,
            port=stack.port("prometheus"),
            directory=base,
            environment=marker,
            command=[
                PROMETHEUS,
                f"--config.file={config / 'prometheus.yml'}",
                f"--storage.tsdb.path={base / 'prometheus'}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address=127.0.0.1:{stack.port('prometheus')}",
                web,
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
        ),
        Program(
            name="alertmanager",
            user=user,
            autostart=False,
            priority=401,
            startsecs=2,
            port=stack.port("alertmanager"),
            directory=base,
            environment=marker,
            command=[
                ALERTMANAGER,
                f"--config.file={config / 'alertmanager.yml'}",
                f"--storage.path={base / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{stack.port('alertmanager')}",
                "--cluster.listen-address=",  # one Alertmanager: no gossip port
                web,
                "--log.level=warn",
            ],
        ),
        Program(
            name="snmp-exporter",
            user=user,
            autostart=False,
            priority=402,
            startsecs=1,
            port=stack.port("snmp-exporter"),
            directory=base,
            environment=marker,
            command=[
                SNMP_EXPORTER,
                f"--config.file={config / 'snmp.yml'}",
                f"--web.listen-address=127.0.0.1:{stack.port('snmp-exporter')}",
                web,
                "--log.level=warn",
            ],
        ),
        Program(
            name="assurance",
            user=user,
            autostart=False,
            priority=403,
            startsecs=2,
            stopwaitsecs=10,
            port=stack.port("assurance"),
            directory=stack.repo,
            environment={**env, **daemon_env(stack), **marker},
            command=[str(stack.venv / "bin" / "netoss"), "assurance", "serve"],
        ),
    ]
