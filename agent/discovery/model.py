"""What a node advertises over mDNS, and the TXT mapping (what we record about others is
`models.DiscoveredAgent`).

TXT properties of `<node_id>._openfabric._tcp.local.`: `node_id`, `name`, `cluster_id`
(empty when the node is in no cluster), `fp` (certificate SHA-256 fingerprint, hex) and `v`
(agent version). The SRV port is the node's bound peer port. An advert whose `node_id` does
not match its instance name, or that misses a property, is malformed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SERVICE_TYPE = "_openfabric._tcp.local."
MAX_TEXT = 200  # longest TXT value in bytes; a TXT string holds at most 255 with its key

_NODE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


class MalformedAdvert(ValueError):
    """An `_openfabric._tcp` service whose name, port or TXT properties make no sense."""


@dataclass(frozen=True)
class Advert:
    node_id: str
    name: str
    cluster_id: str | None
    peer_port: int
    fingerprint: str
    version: str


def instance_name(node_id: str) -> str:
    return f"{node_id}.{SERVICE_TYPE}"


def host_name(node_id: str) -> str:
    return f"{node_id}.local."


def node_id_of(name: str) -> str | None:
    """The node id an instance name stands for, or None for another service type."""
    suffix = "." + SERVICE_TYPE
    if not name.lower().endswith(suffix):
        return None
    return name[: -len(suffix)] or None


def advert_properties(advert: Advert) -> dict[str, str]:
    return {
        "node_id": advert.node_id,
        "name": _clip(advert.name),
        "cluster_id": advert.cluster_id or "",
        "fp": advert.fingerprint,
        "v": _clip(advert.version),
    }


def parse_advert(name: str, properties: Mapping[bytes, bytes | None], port: int | None) -> Advert:
    """Rebuild the Advert a remote node announced; raises MalformedAdvert."""
    props = {_text(k): _text(v) if v is not None else None for k, v in properties.items()}
    values: dict[str, str] = {}
    for key in ("node_id", "name", "cluster_id", "fp", "v"):
        value = props.get(key)
        if value is None or len(value.encode("utf-8")) > MAX_TEXT:
            raise MalformedAdvert(f"TXT property {key!r} is missing or too long")
        values[key] = value
    node_id = values["node_id"]
    if not _NODE_ID.match(node_id) or node_id_of(name) != node_id:
        raise MalformedAdvert(f"node_id {node_id!r} does not match the instance name {name!r}")
    if not _FINGERPRINT.match(values["fp"]):
        raise MalformedAdvert("fp is not a hex SHA-256 fingerprint")
    if port is None or not 0 < port < 65536:
        raise MalformedAdvert(f"invalid peer port {port!r}")
    return Advert(
        node_id=node_id,
        name=values["name"],
        cluster_id=values["cluster_id"] or None,
        peer_port=port,
        fingerprint=values["fp"],
        version=values["v"],
    )


def normalize_addresses(addresses: Iterable[str]) -> list[str]:
    """Unique IP addresses, IPv4 first, in a stable order so changes compare reliably."""
    parsed = set()
    for raw in addresses:
        try:
            parsed.add(ipaddress.ip_address(raw.split("%")[0]))
        except ValueError:
            continue
    return [str(ip) for ip in sorted(parsed, key=lambda ip: (ip.version, int(ip)))]


def _clip(text: str) -> str:
    return text.encode("utf-8")[:MAX_TEXT].decode("utf-8", errors="ignore")


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedAdvert("TXT property is not UTF-8") from None
