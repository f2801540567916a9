"""The relay adds the router's name to glibc's syslog lines (RFC 3164 HOSTNAME)."""

from __future__ import annotations

from netoss.embedded.lab.syslog_relay import with_hostname


def test_hostname_goes_after_the_timestamp():
    line = b"<30>Nov 26 12:28:22 bgpd[28313]: [PXVXG-TFNNT] %ADJCHANGE: neighbor 198.19.0.1(r2) Down\x00"
    assert with_hostname(line, "pe1") == (
        b"<30>Nov 26 12:28:22 pe1 bgpd[28313]: [PXVXG-TFNNT] %ADJCHANGE: neighbor 198.19.0.1(r2) Down"
    )


def test_single_digit_days_keep_their_padding():
    assert with_hostname(b"<29>Dec  1 01:02:03 zebra[1]: up\n", "p1") == b"<29>Dec  1 01:02:03 p1 zebra[1]: up"


def test_lines_without_a_header_pass_unchanged():
    assert with_hostname(b"garbage", "p1") == b"garbage"


def test_the_relay_follows_the_lab_record(tmp_path, monkeypatch):
    """A router that `lab up` adds gets its socket, a removed one loses it, and each line
    carries the router's hostname (issue 14: the set of routers changes without a restart)."""
    import json
    import shutil

    from netoss.embedded.lab import syslog_relay

    monkeypatch.setattr(shutil, "chown", lambda *a, **k: None)  # group frr: root's business

    def write(routers):
        (tmp_path / "built.json").write_text(json.dumps({"routers": routers}))

    sockets = {}
    write([{"name": "pe1", "ns": "pe1", "hostname": "pe1"}])
    syslog_relay.sync(tmp_path, sockets)
    assert set(sockets) == {"pe1"} and syslog_relay.socket_path(tmp_path, "pe1").exists()
    write([{"name": "köln-pe1", "ns": "koln-pe_1a2b3c", "hostname": "koln-pe_1a2b3c"}])
    syslog_relay.sync(tmp_path, sockets)
    assert {ns: hostname for ns, (_s, hostname) in sockets.items()} == {"koln-pe_1a2b3c": "koln-pe_1a2b3c"}
    assert not syslog_relay.socket_path(tmp_path, "pe1").exists()
    (tmp_path / "built.json").write_text("{")  # being written: what is bound stays
    syslog_relay.sync(tmp_path, sockets)
    assert set(sockets) == {"koln-pe_1a2b3c"}
    for s, _hostname in sockets.values():
        s.close()


def test_a_relay_sending_to_another_collector_is_restarted(tmp_path):
    """The stack moved to a network with another management prefix: the lab's bridge, hence its
    collector address, changed, and the relay must send there, not to the old address."""
    from netoss.embedded.lab import runtime

    paths = runtime.LabPaths(root=tmp_path)
    first = runtime.start_relay(paths, "127.0.0.1", 40514)
    try:
        assert runtime.start_relay(paths, "127.0.0.1", 40514) == first  # the same collector: kept
        second = runtime.start_relay(paths, "127.0.0.2", 40514)
        assert second != first and runtime.relay_pid(paths) == second
        assert (tmp_path / "syslog-relay.target").read_text().strip() == "127.0.0.2:40514"
        assert runtime._gone(first)  # stopped (stop_relay waited for it)
    finally:
        runtime.stop_relay(paths)
