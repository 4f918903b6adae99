"""The addresses this node tells other members to reach it on."""

from __future__ import annotations

import ipaddress

import psutil


def local_addresses(advertise: str) -> tuple[str, ...]:
    """`advertise_address` if set (comma-separated allowed), else every non-loopback IPv4
    address of this host, else loopback."""
    if advertise.strip():
        return tuple(a.strip() for a in advertise.split(",") if a.strip())
    found: list[str] = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family.name != "AF_INET":
                continue
            ip = ipaddress.ip_address(entry.address)
            if not (ip.is_loopback or ip.is_link_local) and entry.address not in found:
                found.append(entry.address)
    return tuple(found) or ("127.0.0.1",)
