"""Where an http.request may go: http and https only, never a downgrade by redirect, and, for
a flow written on another member, never this node's own services (loopback), link-local
addresses (cloud metadata among them) or unspecified ones, whatever name leads there.

For such a flow the host is resolved once per connection, every address checked, and the
connection made to a checked address: a name that answers differently a moment later (DNS
rebinding) cannot lead the request elsewhere. TLS still verifies the certificate for the name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio
import httpcore
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


Resolver = Callable[[str, int], Awaitable[list[IP]]]


@dataclass(frozen=True)
class Guard:
    """How a foreign flow's hosts are resolved and judged (tests give a resolver of their own)."""

    resolve: Resolver = addresses_of
    refuse: Callable[[IP], str | None] = forbidden

    async def checked_addresses(self, host: str, port: int) -> list[IP]:
        """Every address `host` resolves to, refused if any is one a foreign flow may not reach."""
        addresses = await self.resolve(host, port)
        for address in addresses:
            why = self.refuse(address)
            if why is not None:
                raise StepFailed(
                    f"this flow was written on another member, and {host} resolves to "
                    f"{address}, {why}: such a flow may not call it"
                )
        if not addresses:
            raise StepFailed(f"{host} resolves to no address")
        return addresses


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard has just checked, in the order they resolved."""

    def __init__(self, guard: Guard) -> None:
        self.guard, self.inner = guard, httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.guard.checked_addresses(host, port)
        for address in addresses[:-1]:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError:
                continue
        return await self.inner.connect_tcp(
            str(addresses[-1]), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise StepFailed("a flow written on another member may not use a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool given the checking backend.

    httpx offers no hook for name resolution; its pool is httpcore's, which takes a network
    backend, so the pool is rebuilt with one (the same settings httpx gives it by default).
    """

    def __init__(self, guard: Guard) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=CheckedBackend(guard),
        )
