"""The addresses this node tells others to reach it on (membership and mDNS alike)."""

from __future__ import annotations

import ipaddress
import logging
import socket

import psutil

log = logging.getLogger("openfabric.peer")
LOOPBACK = "127.0.0.1"


def host_ipv4_addresses() -> list[str]:
    """Non-loopback, non-link-local IPv4 addresses of this host's interfaces that are up."""
    try:
        stats = psutil.net_if_stats()
        interfaces = psutil.net_if_addrs()
    except OSError as exc:
        log.warning("cannot list network interfaces: %s", exc)
        return []
    found: set[ipaddress.IPv4Address] = set()
    for ifname, addrs in interfaces.items():
        if ifname in stats and not stats[ifname].isup:
            continue
        for addr in addrs:
            if addr.family != socket.AF_INET:
                continue
            try:
                ip = ipaddress.IPv4Address(addr.address)
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.add(ip)
    return [str(ip) for ip in sorted(found)]


def local_addresses(advertise_address: str) -> tuple[str, ...]:
    """`advertise_address` when set (comma-separated IPs), else the host's LAN IPv4s, else
    loopback."""
    chosen: list[str] = []
    for part in advertise_address.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            chosen.append(str(ipaddress.ip_address(part)))
        except ValueError:
            log.warning("advertise_address %r is not an IP address; ignored", part)
    return tuple(chosen or host_ipv4_addresses() or [LOOPBACK])
