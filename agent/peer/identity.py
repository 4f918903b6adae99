"""Node identity: made once on first start, then loaded.

- `identity/node.key`: Ed25519 private key (PEM, 0600). It signs peer requests; the node_id is
  derived from its public key, so an id cannot be claimed without the key.
- `identity/tls.key` + `identity/tls.crt`: an ECDSA P-256 key and a self-signed certificate
  for the peer listener (browsers do not accept Ed25519 certificates, and the onboarding page
  is served over it). Peers pin the certificate's SHA-256 fingerprint, not a CA.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

CERT_VALIDITY = dt.timedelta(days=3650)


def node_id_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b32encode(hashlib.sha256(raw).digest()[:15]).decode().lower()


def fingerprint_of(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class Identity:
    node_key: Ed25519PrivateKey
    node_id: str
    public_key_b64: str
    tls_cert_path: Path
    tls_key_path: Path
    fingerprint: str

    def sign(self, message: bytes) -> bytes:
        return self.node_key.sign(message)


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 from the start, so the secret is never world-readable."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _make_certificate(node_id: str, tls_key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"openfabric-{node_id}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenFabric node"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName(f"{node_id}.openfabric"),
            x509.DNSName(socket.gethostname()),
            x509.DNSName("localhost"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(tls_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(tls_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def load_or_create_identity(home: Path) -> Identity:
    folder = home / "identity"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, tls_key_path, cert_path = (
        folder / "node.key",
        folder / "tls.key",
        folder / "tls.crt",
    )
    if key_path.exists():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{key_path} is not an Ed25519 private key")
        node_key = loaded
    else:
        node_key = Ed25519PrivateKey.generate()
        _write_private(
            key_path,
            node_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    node_id = node_id_for(node_key.public_key())
    if not (tls_key_path.exists() and cert_path.exists()):
        tls_key = ec.generate_private_key(ec.SECP256R1())
        _write_private(
            tls_key_path,
            tls_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        _write_private(cert_path, _make_certificate(node_id, tls_key))
    public_raw = node_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return Identity(
        node_key=node_key,
        node_id=node_id,
        public_key_b64=base64.b64encode(public_raw).decode(),
        tls_cert_path=cert_path,
        tls_key_path=tls_key_path,
        fingerprint=fingerprint_of(cert_path.read_bytes()),
    )
