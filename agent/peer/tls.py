"""TLS between members: a self-signed certificate per node, pinned by SHA-256 fingerprint.

There is no CA. A caller first learns a peer's certificate (from a join token's fingerprint,
checked on first contact, or from the member list), then trusts exactly that certificate:
`pinned_context(pem)` fails the handshake for any other, before a byte of the request is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization


class FingerprintMismatch(Exception):
    """The peer presented a certificate other than the one expected."""


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The peer is identified by its pinned certificate, not by a host name.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=cert_pem)
    return context


def fingerprint_of_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


async def fetch_certificate(
    host: str, port: int, expected_fingerprint: str, timeout: float = 5.0
) -> str:
    """Connect once without trust, and answer the peer's certificate PEM only if its
    fingerprint is the expected one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context), timeout
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 1)
    del reader
    if not der:
        raise FingerprintMismatch(f"{host}:{port} presented no certificate")
    found = fingerprint_of_der(der)
    if found != expected_fingerprint.lower():
        raise FingerprintMismatch(
            f"{host}:{port} presented certificate {found[:16]}…, expected "
            f"{expected_fingerprint[:16]}…"
        )
    cert = x509.load_der_x509_certificate(der)
    return cert.public_bytes(serialization.Encoding.PEM).decode()
