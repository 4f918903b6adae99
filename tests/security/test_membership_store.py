"""Join tokens bound to a cluster, and the migration of an unsigned membership table."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.cluster.models import JoinBody, SignedNode
from agent.cluster.records import check_node
from agent.cluster.store import MIGRATIONS
from agent.cluster.tokens import decode
from agent.core.db import Database
from agent.core.errors import ApiError
from agent.peer.identity import load_or_create_identity
from tests.security.test_membership_ledger import (
    MakeNode,
    Node,
    admit,
    joins_of,
    node_factory,
)


@pytest.fixture
async def make_node(tmp_path: Path) -> AsyncIterator[MakeNode]:
    async with node_factory(tmp_path) as make:
        yield make


def join_body(token_text: str, joiner: Node, **changes: str) -> JoinBody:
    token = decode(token_text)
    return JoinBody.model_validate(
        {
            "token_id": token.token_id,
            "secret": token.secret,
            "cluster_id": token.cluster_id,
            "node": joiner.membership.nodes[joiner.id].wire(),
            **changes,
        }
    )


async def token_of(node: Node) -> str:
    return (await joins_of(node).issue_token()).token


async def test_a_token_names_its_issuers_cluster(make_node: MakeNode) -> None:
    issuer = await make_node("issuer")
    text = await token_of(issuer)
    assert decode(text).cluster_id == issuer.membership.cluster_id
    row = await issuer.membership.store.token(decode(text).token_id)
    assert row is not None
    assert row["cluster_id"] == issuer.membership.cluster_id


async def test_a_forged_cluster_id_is_refused_and_spends_nothing(make_node: MakeNode) -> None:
    issuer, joiner = await make_node("issuer"), await make_node("joiner")
    text = await token_of(issuer)
    with pytest.raises(ApiError) as refused:
        await joins_of(issuer).accept(join_body(text, joiner, cluster_id="ab" * 16))
    assert refused.value.code == "INVALID_TOKEN"
    assert issuer.status_of(joiner.id) is None
    # The token was not spent by the refused attempt.
    assert (await joins_of(issuer).accept(join_body(text, joiner)))["cluster_id"]


async def test_a_token_dies_when_its_issuer_joins_another_cluster(make_node: MakeNode) -> None:
    lone, other, device = [await make_node(n) for n in ("lone", "other", "device")]
    text = await token_of(lone)
    await admit(other, lone)  # lone joins other's cluster, then its old token is used
    assert await lone.membership.store.token(decode(text).token_id) is None
    for cluster_id in (decode(text).cluster_id, lone.membership.cluster_id or ""):
        with pytest.raises(ApiError) as refused:
            await joins_of(lone).accept(join_body(text, device, cluster_id=cluster_id))
        assert refused.value.code == "INVALID_TOKEN"
    assert lone.status_of(device.id) is None


async def test_a_token_dies_when_its_issuer_leaves(make_node: MakeNode) -> None:
    a, b = await make_node("a"), await make_node("b")
    await admit(a, b)
    text = await token_of(b)
    await b.membership.become_lone("left")
    assert await b.membership.store.token(decode(text).token_id) is None


async def test_an_unsigned_table_migrates_to_a_lone_signed_node(
    tmp_path: Path, make_node: MakeNode
) -> None:
    home = tmp_path / "old"
    identity = load_or_create_identity(home)
    db = Database(home / "fabric.db")
    await db.open()
    await db.migrate("cluster", MIGRATIONS[:1])
    now = time.time()
    for node_id, rev in ((identity.node_id, 7), ("b" * 24, 2**63 - 1)):
        await db.execute(
            "INSERT INTO members VALUES (?, 'n', 'k', 'f', 'c', ?, 4893, 'v', 'member', ?,"
            " ?, ?, ?)",
            (node_id, json.dumps(["127.0.0.1"]), rev, now, now, now),
        )
    await db.execute("INSERT INTO cluster_state VALUES ('cluster_id', '0123456789abcdef')")
    await db.execute(
        "INSERT INTO join_tokens (token_id, secret_sha256, created_at, expires_at)"
        " VALUES ('t', 's', ?, ?)",
        (now, now + 600),
    )
    await db.close()
    node = await make_node("old")
    assert node.membership.cluster_id is None
    assert list(node.membership.members) == [identity.node_id]
    own = node.membership.nodes[identity.node_id]
    assert check_node(SignedNode.model_validate(own.wire())) is not None
    assert await node.db.fetchone("SELECT * FROM join_tokens") is None
    # It can found a cluster and invite again.
    assert decode(await token_of(node)).cluster_id == node.membership.cluster_id


async def test_a_token_without_a_bound_cluster_id_is_malformed(make_node: MakeNode) -> None:
    token = decode(await token_of(await make_node("issuer")))
    for changes in ({"cluster_id": "0123456789abcdef"}, {"token_id": "x" * 16}):
        with pytest.raises(ApiError) as refused:
            decode(dataclasses.replace(token, **changes).encode())
        assert refused.value.code == "INVALID_TOKEN"
