"""Discovery without a network: the TXT mapping, the table of seen agents, events, callbacks."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from zeroconf import ServiceInfo

from agent.core.bus import EventBus
from agent.core.subsystem import Context
from agent.discovery.model import (
    MalformedAdvert,
    advert_properties,
    instance_name,
    normalize_addresses,
    parse_advert,
)
from agent.discovery.service import STALE_AFTER
from agent.discovery.subsystem import (
    DISCOVERY_FOUND,
    DISCOVERY_LOST,
    DISCOVERY_UPDATED,
    SERVICE_TYPE,
    Advert,
    DiscoveredAgent,
    DiscoveryListing,
    DiscoveryService,
    assemble,
)
from agent.ops.openapi import build_openapi
from agent.peer import addresses as addresses_module
from tests.discovery.fakes import SELF_ID, FakeClock, MemberCalls, make_advert
from tests.ops.published import assert_matches


def txt_of(advert: Advert) -> dict[bytes, bytes | None]:
    """The TXT properties exactly as zeroconf encodes them on the wire."""
    info = ServiceInfo(
        SERVICE_TYPE,
        instance_name(advert.node_id),
        port=advert.peer_port,
        properties=advert_properties(advert),
    )
    return info.properties


async def see(service: DiscoveryService, advert: Advert, addresses: list[str] | None = None) -> Any:
    return await service.handle_resolved(
        instance_name(advert.node_id), txt_of(advert), addresses or ["10.0.0.2"], advert.peer_port
    )


def topics(bus: EventBus) -> list[str]:
    return [e.topic for e in bus.recent(["discovery"])]


def malformed_count(ctx: Context) -> float:
    value = ctx.metrics.registry.get_sample_value("openfabric_discovery_malformed_total")
    return value or 0.0


@pytest.mark.parametrize("cluster_id", [None, "c0ffee"])
def test_advert_round_trips_through_txt(cluster_id: str | None) -> None:
    advert = make_advert("node7", cluster_id=cluster_id, name="Kitchen PC ü", peer_port=40123)
    properties = txt_of(advert)
    assert set(properties) == {b"node_id", b"name", b"cluster_id", b"fp", b"v"}
    assert properties[b"cluster_id"] == (cluster_id or "").encode()
    assert parse_advert(instance_name("node7"), properties, 40123) == advert


BAD: list[tuple[str, Callable[[dict[bytes, Any]], None], int | None]] = [
    ("missing fp", lambda p: p.pop(b"fp"), 4893),
    ("missing version", lambda p: p.pop(b"v"), 4893),
    ("valueless key", lambda p: p.update({b"name": None}), 4893),
    ("node_id differs from name", lambda p: p.update({b"node_id": b"other"}), 4893),
    ("bad fingerprint", lambda p: p.update({b"fp": b"xyz"}), 4893),
    ("not utf-8", lambda p: p.update({b"name": b"\xff\xfe"}), 4893),
    ("too long", lambda p: p.update({b"v": b"9" * 250}), 4893),
    ("port 0", lambda p: None, 0),
    ("no port", lambda p: None, None),
]


@pytest.mark.parametrize(("case", "spoil", "port"), BAD, ids=[b[0] for b in BAD])
async def test_malformed_adverts_are_ignored_and_counted(
    service: DiscoveryService,
    ctx: Context,
    case: str,
    spoil: Callable[[dict[bytes, Any]], None],
    port: int | None,
) -> None:
    properties = dict(txt_of(make_advert("node1")))
    spoil(properties)
    with pytest.raises(MalformedAdvert):
        parse_advert(instance_name("node1"), properties, port)
    agent = await service.handle_resolved(instance_name("node1"), properties, ["10.0.0.2"], port)
    assert agent is None
    assert service.get("node1") is None
    assert malformed_count(ctx) == 1
    assert topics(ctx.bus) == []


async def test_an_advert_without_usable_addresses_is_malformed(
    service: DiscoveryService, ctx: Context
) -> None:
    advert = make_advert("node1")
    name = instance_name("node1")
    assert await service.handle_resolved(name, txt_of(advert), ["not-an-ip"], 4893) is None
    assert malformed_count(ctx) == 1


def test_addresses_are_normalized() -> None:
    raw = ["fe80::1%eth0", "10.0.0.9", "192.168.1.2", "10.0.0.9", "junk", "10.0.0.10"]
    assert normalize_addresses(raw) == ["10.0.0.9", "10.0.0.10", "192.168.1.2", "fe80::1"]


async def test_discovered_excludes_members_and_self(
    service: DiscoveryService, members: MemberCalls, clock: FakeClock
) -> None:
    members.members.add("member1")
    assert await see(service, make_advert(SELF_ID)) is None
    stranger = await see(service, make_advert("stranger", name="b"), ["10.0.0.3"])
    await see(service, make_advert("member1", name="a"), ["10.0.0.4"])

    assert [a.node_id for a in service.discovered()] == ["stranger"]
    assert service.get(SELF_ID) is None
    member = service.get("member1")
    assert member is not None
    assert member.addresses == ["10.0.0.4"]
    assert stranger.first_seen == stranger.last_seen == clock.now
    assert stranger.cluster_id is None
    assert stranger.fingerprint == "ab" * 32


async def test_found_updated_and_lost_events(
    service: DiscoveryService, ctx: Context, clock: FakeClock
) -> None:
    advert = make_advert("node1")
    first = await see(service, advert)
    clock.advance(5)
    await see(service, advert)  # same advert again: nothing new to say
    assert topics(ctx.bus) == [DISCOVERY_FOUND.name]

    joined = await see(service, dataclasses.replace(advert, cluster_id="c1"))
    assert joined.first_seen == first.first_seen
    assert joined.last_seen == clock.now
    assert topics(ctx.bus) == [DISCOVERY_FOUND.name, DISCOVERY_UPDATED.name]

    service.handle_removed(instance_name("node1"))
    service.handle_removed(instance_name("never-seen"))
    service.handle_removed("printer._ipp._tcp.local.")
    events = ctx.bus.recent(["discovery"])
    assert [e.topic for e in events] == [
        DISCOVERY_FOUND.name,
        DISCOVERY_UPDATED.name,
        DISCOVERY_LOST.name,
    ]
    # Each carries the agent as the route lists it: every field of the model, nothing else.
    assert events[0].data == first.model_dump(mode="json")
    assert events[-1].data == joined.model_dump(mode="json")
    assert DiscoveredAgent.model_validate(events[-1].data) == joined
    assert service.get("node1") is None


async def test_stale_entries_expire(
    service: DiscoveryService, ctx: Context, clock: FakeClock
) -> None:
    await see(service, make_advert("old"))
    clock.advance(STALE_AFTER / 2)
    await see(service, make_advert("fresh"))
    clock.advance(STALE_AFTER / 2 - 1)
    assert service.expire() == []

    clock.advance(2)
    assert [a.node_id for a in service.expire()] == ["old"]
    assert [a.node_id for a in service.discovered()] == ["fresh"]
    assert ctx.bus.recent([DISCOVERY_LOST.name])[-1].data["node_id"] == "old"

    await see(service, make_advert("fresh"))  # confirmed again: the clock restarts
    clock.advance(STALE_AFTER - 1)
    assert service.expire() == []


async def test_on_member_address_only_when_a_member_moves(
    service: DiscoveryService, members: MemberCalls
) -> None:
    members.members.add("member1")
    advert = make_advert("member1", peer_port=5000)
    await see(service, advert, ["10.0.0.5"])
    await see(service, advert, ["10.0.0.5"])
    await see(service, dataclasses.replace(advert, cluster_id="c1"), ["10.0.0.5"])
    assert members.calls == [("member1", ["10.0.0.5"], 5000)]

    await see(service, advert, ["10.0.0.6", "10.0.0.5"])
    await see(service, dataclasses.replace(advert, peer_port=5001), ["10.0.0.5", "10.0.0.6"])
    await see(service, make_advert("stranger"), ["10.0.0.9"])
    await see(service, make_advert("stranger"), ["10.0.0.10"])
    assert members.calls == [
        ("member1", ["10.0.0.5"], 5000),
        ("member1", ["10.0.0.5", "10.0.0.6"], 5000),
        ("member1", ["10.0.0.5", "10.0.0.6"], 5001),
    ]


async def test_a_failing_member_callback_is_logged_not_raised(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(node_id: str, addresses: list[str], port: int) -> None:
        raise RuntimeError("db is gone")

    service = DiscoveryService(
        ctx, advert=make_advert, is_member=lambda _: True, on_member_address=broken
    )
    with caplog.at_level(logging.ERROR, logger="openfabric.discovery"):
        assert await see(service, make_advert("member1")) is not None
    assert "member1" in caplog.text


async def test_agents_gauge_counts_everyone_seen(service: DiscoveryService, ctx: Context) -> None:
    await see(service, make_advert("node1"))
    await see(service, make_advert("node2"))
    assert ctx.metrics.registry.get_sample_value("openfabric_discovery_agents") == 2


async def test_mdns_off_does_nothing_and_the_route_says_so(
    make_ctx: Callable[..., Context],
) -> None:
    subsystem = assemble(make_ctx(mdns=False), advert=make_advert, is_member=lambda _: False)
    assert subsystem.name == "discovery"
    await subsystem.start()
    await subsystem.service.refresh_advert()
    await see(subsystem.service, make_advert("node1"))
    assert subsystem.service.enabled is False
    with TestClient(Starlette(routes=subsystem.routes())) as client:
        answer = client.get("/api/cluster/discovered").json()
    assert answer == {"agents": [], "count": 0, "mdns": False}
    await subsystem.stop()


async def test_route_lists_non_members(
    make_ctx: Callable[..., Context], monkeypatch: pytest.MonkeyPatch
) -> None:
    subsystem = assemble(make_ctx(), advert=make_advert, is_member=lambda n: n == "member1")
    monkeypatch.setattr(DiscoveryService, "enabled", property(lambda self: True))
    stranger = await see(subsystem.service, make_advert("stranger"))
    await see(subsystem.service, make_advert("member1"))
    with TestClient(Starlette(routes=subsystem.routes())) as client:
        answer = client.get("/api/cluster/discovered").json()
    assert answer == {"agents": [stranger.model_dump(mode="json")], "count": 1, "mdns": True}
    spec = build_openapi(subsystem.routes(), "test")
    assert_matches(spec, "GET", "/api/cluster/discovered", answer)
    assert DiscoveryListing.model_validate(answer).agents == [stranger]


def _fake_interfaces(monkeypatch: pytest.MonkeyPatch, addrs: dict[str, list[str]]) -> None:
    table = {
        name: [SimpleNamespace(family=socket.AF_INET, address=a) for a in values]
        for name, values in addrs.items()
    }
    stats = {name: SimpleNamespace(isup=True) for name in addrs}
    monkeypatch.setattr(addresses_module.psutil, "net_if_addrs", lambda: table)
    monkeypatch.setattr(addresses_module.psutil, "net_if_stats", lambda: stats)


def test_advertised_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_interfaces(
        monkeypatch,
        {"lo": ["127.0.0.1"], "eth0": ["192.168.1.20", "169.254.3.4"], "wg0": ["10.8.0.2"]},
    )
    assert list(addresses_module.local_addresses("")) == ["10.8.0.2", "192.168.1.20"]
    assert list(addresses_module.local_addresses("192.168.7.7")) == ["192.168.7.7"]
    assert list(addresses_module.local_addresses("box.lan")) == ["10.8.0.2", "192.168.1.20"]
    assert addresses_module.local_addresses(" 10.0.0.1, 10.0.0.2") == ("10.0.0.1", "10.0.0.2")
    _fake_interfaces(monkeypatch, {"lo": ["127.0.0.1"]})
    assert list(addresses_module.local_addresses("")) == ["127.0.0.1"]


def test_long_names_are_clipped_to_fit_a_txt_string() -> None:
    advert = make_advert("node1", name="ü" * 300)
    properties = txt_of(advert)
    assert len(properties[b"name"] or b"") <= 200
    parsed = parse_advert(instance_name("node1"), properties, advert.peer_port)
    assert parsed.name == "ü" * 100
