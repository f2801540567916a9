"""The stack's TLS material for other hosts (netoss.embedded.stack.tls): its own CA, a server
certificate for the listen address, verified by a real TLS handshake as the clients make it."""

from __future__ import annotations

import socket
import ssl
import stat
import threading

import pytest

from netoss.embedded.stack import tls


def _handshake(material: tls.Material, address: str) -> str:
    """Serve one TLS handshake on ``address`` with the server certificate; a client verifying
    against the CA and the address (as verify-full does) connects; the protocol it got."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(material.cert, material.key)
    listener = socket.create_server((address, 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        try:
            with server.wrap_socket(conn, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError):  # the client refused the certificate
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = ssl.create_default_context(cafile=str(material.ca))
    with socket.create_connection((address, port)) as raw, client.wrap_socket(raw, server_hostname=address) as s:
        version = s.version()
        s.send(b"x")
    t.join(5)
    listener.close()
    return version


def test_the_server_certificate_is_verified_against_the_stacks_ca_for_each_address(tmp_path):
    m = tls.ensure(tmp_path / "tls", ["127.0.0.1", "127.0.0.2"])
    assert _handshake(m, "127.0.0.1") in ("TLSv1.2", "TLSv1.3")
    assert _handshake(m, "127.0.0.2") in ("TLSv1.2", "TLSv1.3")
    assert stat.S_IMODE((tmp_path / "tls" / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(m.key.stat().st_mode) == 0o600


def test_an_address_not_in_the_certificate_fails_verification(tmp_path):
    m = tls.ensure(tmp_path / "tls", ["127.0.0.1"])
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(m, "127.0.0.3")


def test_the_material_is_kept_while_the_addresses_hold_and_renewed_when_they_change(tmp_path):
    first = tls.ensure(tmp_path / "tls", ["127.0.0.1", "127.0.0.2"])
    cert, ca = first.cert.read_bytes(), first.ca.read_bytes()
    assert tls.ensure(tmp_path / "tls", ["127.0.0.2", "127.0.0.1"]).cert.read_bytes() == cert
    again = tls.ensure(tmp_path / "tls", ["127.0.0.1", "127.0.0.4"])
    assert again.cert.read_bytes() != cert and again.ca.read_bytes() == ca  # same CA: clients keep theirs
    assert _handshake(again, "127.0.0.4")


def test_a_listen_address_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not-an-address"):
        tls.ensure(tmp_path / "tls", ["127.0.0.1", "not-an-address"])
