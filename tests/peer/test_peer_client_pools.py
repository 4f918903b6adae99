"""PeerClient keeps one pool per member, pinned to its certificate; a new certificate retires
the old pool before the request that noticed it goes on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
from agent.peer.identity import Identity, load_or_create_identity


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that is bound but not listening: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_a_changed_certificate_closes_the_old_pool(tmp_path: Path, refused_port: int) -> None:
    me = load_or_create_identity(tmp_path / "me")
    member = load_or_create_identity(tmp_path / "member")
    renewed = load_or_create_identity(tmp_path / "renewed")
    client = PeerClient(me, timeout=2)

    def target(cert_of: Identity) -> PeerTarget:
        cert = cert_of.tls_cert_path.read_text()
        return PeerTarget(member.node_id, ("127.0.0.1",), refused_port, cert)

    try:
        with pytest.raises(PeerUnreachable):
            await client.request(target(member), "GET", "/peer/x")
        old = client._clients[member.node_id][1]
        # Closed by the time the new pool is handed out, not some time later.
        new = await client._client(target(renewed))
        assert old.is_closed
        assert new is not old
        assert not new.is_closed
    finally:
        await client.close()


async def test_a_member_with_no_address_is_unreachable(tmp_path: Path) -> None:
    me = load_or_create_identity(tmp_path / "me")
    member = load_or_create_identity(tmp_path / "member")
    client = PeerClient(me, timeout=2)
    target = PeerTarget(member.node_id, (), 1, member.tls_cert_path.read_text())
    try:
        with pytest.raises(PeerUnreachable):
            await client.request(target, "GET", "/peer/x")
        with pytest.raises(PeerUnreachable):
            async with client.stream(target, "GET", "/peer/x"):
                pass
    finally:
        await client.close()
