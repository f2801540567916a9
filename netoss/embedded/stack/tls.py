"""The stack's TLS material, for the hosts that reach it from outside (`netoss up --listen`).

A stack that other hosts use (job workers and fault processors elsewhere: docs/scaling.md)
serves PostgreSQL, Redis and NetBox's API on that address over TLS only. It signs its own
certificates: a CA of its own (``<state>/tls/ca.crt``, its key ``ca.key`` readable by root
alone), and a server certificate for 127.0.0.1 and the address, renewed when the address
changes or a month before it expires. The other hosts are given the CA's certificate and verify
the server against it (PostgreSQL ``sslmode=verify-full``, Redis and HTTPS with hostname
checks on the address).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class Material:
    ca: Path  # the CA's certificate: what every client verifies against
    cert: Path  # the server's certificate (chain: server, then CA)
    key: Path  # the server's private key (root's; each service gets a copy of its own)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(directory: Path, name: str):
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE:
            return cert, serialization.load_pem_private_key(key_path.read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"netoss CA {name}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digital signature, cert and CRL signing
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _server_ok(cert_path: Path, ca_cert, addresses: list[str]) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
    return (
        have == set(addresses)
        and cert.issuer == ca_cert.subject
        and cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE
    )


def ensure(directory: Path, addresses: list[str], name: str = "stack") -> Material:
    """The CA and a server certificate for ``addresses`` (IP addresses) in ``directory``
    (mode 0755; the keys 0600), made or renewed as needed. ValueError naming an address that
    is not one."""
    addresses = sorted({str(ipaddress.ip_address(a)) for a in addresses})
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # noqa: S103 - certificates for all to read; the keys are 0600
    ca_cert, ca_key = _ca(directory, name)
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    if not (_server_ok(cert_path, ca_cert, addresses) and key_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[-1])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write(key_path, _key_pem(key), 0o600)
        chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
        _write(cert_path, chain, 0o644)
    return Material(ca=directory / "ca.crt", cert=cert_path, key=key_path)


def copy_key(material: Material, target: Path, uid: int, gid: int) -> Path:
    """A copy of the server key (and its certificate beside it) that only ``uid`` reads: each
    service that serves TLS gets its own (PostgreSQL refuses a key others can read)."""
    target.mkdir(parents=True, exist_ok=True)
    os.chown(target, uid, gid)
    os.chmod(target, 0o700)
    for source, name, mode in ((material.key, "server.key", 0o600), (material.cert, "server.crt", 0o644)):
        tmp = target / (name + ".tmp")
        shutil.copyfile(source, tmp)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        tmp.replace(target / name)
    return target
