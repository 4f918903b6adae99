"""Where an http.request may go: http and https only, never a downgrade by redirect, and, for
a flow written on another member, never this node's own services (loopback), link-local
addresses (cloud metadata among them) or unspecified ones, whatever name leads there.

The host is resolved and every address checked before the request; a name that resolves
differently a moment later (DNS rebinding) is not caught by this check.
"""

from __future__ import annotations

import ipaddress
import socket

import anyio
import httpx

from agent.flows.actions.base import StepFailed

SCHEMES = ("http", "https")
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
# 0.0.0.0/8 is "this network": Linux answers a connect to any of it from the machine itself.
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


def checked_url(text: str) -> httpx.URL:
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise StepFailed(f"{text[:200]!r} is not a URL: {exc}") from None
    if url.scheme not in SCHEMES or not url.host:
        raise StepFailed(f"{text[:200]!r} is not an http or https URL")
    return url


def redirect_allowed(source: httpx.URL, target: httpx.URL) -> None:
    if target.scheme not in SCHEMES or (source.scheme == "https" and target.scheme != "https"):
        raise StepFailed(
            f"{source.host} redirected to a {target.scheme} URL, which is not followed "
            f"(from {source.scheme}: only http or https, never https to http)"
        )


def forbidden(address: IP) -> str | None:
    """Why a foreign flow may not reach `address` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address (this node's own services)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or (address.version == 4 and address in THIS_NETWORK):
        return "an unspecified address"
    return None


async def addresses_of(host: str, port: int) -> list[IP]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise StepFailed(f"{host} cannot be resolved: {exc}") from None
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


async def check_foreign(url: httpx.URL) -> None:
    """Refuse a URL a foreign flow may not reach, after resolving its host."""
    port = url.port or (443 if url.scheme == "https" else 80)
    for address in await addresses_of(url.host, port):
        why = forbidden(address)
        if why is not None:
            raise StepFailed(
                f"this flow was written on another member, and {url.host} resolves to "
                f"{address}, {why}: such a flow may not call it"
            )
