"""The lab's privileged helper checks every request before anything runs as root (issue 13, 12)."""

from __future__ import annotations

import json

import pytest

from netoss.embedded.lab import helper

PREFIX = "nt-"


def test_patch_and_ping_requests_are_normalised():
    req = helper.check({"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0", "prefix": PREFIX}, PREFIX)
    assert req == {"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0", "prefix": PREFIX, "check_mode": False}
    ping = {"op": "ping", "device": "ce3", "source": "lo", "destination": "203.0.113.1", "prefix": PREFIX}
    assert helper.check(ping, PREFIX)["timeout"] == 30
    assert helper.check(dict(ping, source="198.18.0.1"), PREFIX)["source"] == "198.18.0.1"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0", "prefix": "other-"}, "prefix"),
        ({"op": "patch", "a": "pe1:eth4;reboot", "b": "ce3:eth0", "prefix": PREFIX}, "a"),
        ({"op": "patch", "a": "pe1:eth4", "b": "../x:eth0", "prefix": PREFIX}, "b"),
        ({"op": "unpatch", "a": "pe1", "b": "ce3:eth0", "prefix": PREFIX}, "a"),
        ({"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0\nip", "prefix": PREFIX}, "b"),
        ({"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0", "prefix": PREFIX, "check_mode": "no"}, "check_mode"),
        ({"op": "ping", "device": "ce3", "source": "lo", "destination": "-f", "prefix": PREFIX}, "destination"),
        ({"op": "ping", "device": "ce3", "source": "-f x", "destination": "10.0.0.1", "prefix": PREFIX}, "source"),
        ({"op": "ping", "device": "CE3 x", "source": "lo", "destination": "10.0.0.1", "prefix": PREFIX}, "device"),
        (
            {
                "op": "ping",
                "device": "ce3",
                "source": "lo",
                "destination": "10.0.0.1",
                "prefix": PREFIX,
                "count": 10**9,
            },
            "count",
        ),
        ({"op": "exec", "prefix": PREFIX}, "op"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(request_, field):
    with pytest.raises(helper.RequestError, match=f"^{field}:"):
        helper.check(request_, PREFIX)


def test_no_lab_no_service(tmp_path):
    resp = helper.answer(b'{"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0", "prefix": "nt-"}', tmp_path)
    assert resp == {"ok": False, "error": "lab helper: no lab is built on this stack"}


def test_answers_never_echo_much_of_the_input(tmp_path):
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "built.json").write_text(json.dumps({"config": {"ns_prefix": PREFIX}}))
    bad = json.dumps({"op": "patch", "a": "x" * 100000, "b": "ce3:eth0", "prefix": PREFIX}).encode()
    resp = helper.answer(bad, tmp_path)
    assert (
        not resp["ok"]
        and resp["error"].startswith("lab helper: a: not a lab device:interface")
        and len(resp["error"]) < 120
    )
    assert helper.answer(b"\xff not json", tmp_path)["ok"] is False


def test_lab_netns_asks_the_helper_when_not_root(tmp_path, monkeypatch):
    """As the unprivileged worker, lab_link and lab_ping go through the helper's socket."""
    import socket
    import threading

    from ansible_collections.netoss.core.plugins.module_utils import lab_netns

    path = tmp_path / "helper.sock"
    seen = []
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)

    def serve_one():
        conn, _ = srv.accept()
        with conn:
            seen.append(json.loads(conn.makefile("rb").readline()))
            conn.sendall(b'{"ok": true, "result": true}\n')

    threading.Thread(target=serve_one, daemon=True).start()
    monkeypatch.setattr(lab_netns.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("NETOSS_LAB_HELPER", str(path))
    assert lab_netns.patch("pe1:eth4", "ce3:eth0", PREFIX) is True
    assert seen == [{"op": "patch", "a": "pe1:eth4", "b": "ce3:eth0", "prefix": PREFIX, "check_mode": False}]
    srv.close()
    monkeypatch.setenv("NETOSS_LAB_HELPER", str(tmp_path / "none.sock"))
    with pytest.raises(lab_netns.LabError, match="no lab helper answers"):
        lab_netns.unpatch("pe1:eth4", "ce3:eth0", PREFIX)


def test_any_netbox_device_name_is_accepted_and_acts_on_its_own_namespace(monkeypatch):
    """Device names as NetBox holds them (FQDNs, non-ASCII) reach the lab's namespace of that
    device (lab_netns.namespace_name), never a path or a command line of their own (issue 14)."""
    from ansible_collections.netoss.core.plugins.module_utils import lab_netns

    fqdn, koln = "ams-core-router-01.example.net", "köln-pe1"
    req = helper.check({"op": "patch", "a": f"{fqdn}:eth4", "b": f"{koln}:eth0", "prefix": PREFIX}, PREFIX)
    assert (req["a"], req["b"]) == (f"{fqdn}:eth4", f"{koln}:eth0")
    assert helper.check({"op": "ping", "device": fqdn, "source": "lo", "destination": "203.0.113.1", "prefix": PREFIX},
                        PREFIX)["device"] == fqdn  # fmt: skip
    known = {lab_netns.namespace_name(PREFIX, fqdn), lab_netns.namespace_name(PREFIX, koln)}
    assert lab_netns.endpoint(f"{fqdn}:eth4", PREFIX, known) == (lab_netns.namespace_name(PREFIX, fqdn), "eth4")
    assert lab_netns.namespace_name(PREFIX, koln).startswith("nt-koln_")
    with pytest.raises(lab_netns.LabError, match="the lab has no router pe1 \\(namespace nt-pe1\\)"):
        lab_netns.endpoint("pe1:eth4", PREFIX, known)


@pytest.mark.parametrize(
    "device",
    ["a b", "a/b", "../x", "x" * 65, "pe1\n", "pe1;reboot", "", "pe1:eth0"],
)
def test_device_names_outside_netbox_names_are_refused(device):
    ping = {"op": "ping", "device": device, "source": "lo", "destination": "10.0.0.1", "prefix": PREFIX}
    with pytest.raises(helper.RequestError, match=r"^device:"):
        helper.check(ping, PREFIX)


def test_interface_names_the_lab_cannot_create_are_refused():
    for interface in ("GigabitEthernet0/0/0/12", "eth 1", "a" * 16):
        with pytest.raises(helper.RequestError, match=r"^a:"):
            helper.check({"op": "patch", "a": f"pe1:{interface}", "b": "ce3:eth0", "prefix": PREFIX}, PREFIX)
