"""Test doubles for discovery: a settable clock, adverts, and a recording member callback."""

from __future__ import annotations

from typing import Any

from agent.discovery.subsystem import Advert

SELF_ID = "selfnode"
FINGERPRINT = "ab" * 32


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_advert(node_id: str = SELF_ID, **changes: Any) -> Advert:
    values: dict[str, Any] = {
        "node_id": node_id,
        "name": f"{node_id}-name",
        "cluster_id": None,
        "peer_port": 4893,
        "fingerprint": FINGERPRINT,
        "version": "0.1.0",
        **changes,
    }
    return Advert(**values)


class MemberCalls:
    def __init__(self) -> None:
        self.members: set[str] = set()
        self.calls: list[tuple[str, list[str], int]] = []

    def is_member(self, node_id: str) -> bool:
        return node_id in self.members

    async def on_member_address(self, node_id: str, addresses: list[str], port: int) -> None:
        self.calls.append((node_id, addresses, port))
