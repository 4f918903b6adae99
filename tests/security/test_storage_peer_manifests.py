"""A member signing malformed or implausible storage pushes gets 400 (or is ignored), never a
500, and nothing it sent is stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from agent.peer.identity import load_or_create_identity
from tests.harness import AgentProcess, agent_processes, call, form_cluster, signed_peer_post

DIGEST = hashlib.sha256(b"chunk").hexdigest()
SHA = hashlib.sha256(b"file").hexdigest()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    root = tmp_path_factory.mktemp("peer-manifests")
    with agent_processes([root / "a", root / "b"]) as agents:
        form_cluster(agents)
        yield agents


def manifest(author: str, **changes: Any) -> dict[str, Any]:
    base = {
        "path": "pushed/file.bin",
        "modified": 1_700_000_000.0,
        "writer": author,
        "deleted": False,
        "size": 5,
        "sha256": SHA,
        "chunk_size": 4 * 1024 * 1024,
        "chunks": [DIGEST],
    }
    return {**base, **changes}


def push(*manifests: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"manifests": list(manifests), "holders": [], **extra}).encode()


MALFORMED_BODIES = {
    "not json": b"{not json",
    "truncated": b'{"manifests": [',
    "deep nesting": b'{"manifests": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "deep objects": b'{"x": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_000 + b"}",
    "not utf-8": b'{"manifests": "\xff\xfe"}',
    "nan": b'{"manifests": [], "x": NaN}',
    "array": b"[]",
    "string": b'"manifests"',
    "manifests not a list": b'{"manifests": {"a": 1}}',
    "unknown field": b'{"manifests": [], "evil": 1}',
    "holder not a pair": json.dumps({"holders": [[DIGEST]]}).encode(),
    "holder bad digest": json.dumps({"holders": [["../../etc", "abc"]]}).encode(),
    "holder bad node": json.dumps({"holders": [[DIGEST, "NOT A NODE\n"]]}).encode(),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_BODIES))
def test_malformed_manifest_pushes_are_400(pair: list[AgentProcess], name: str) -> None:
    a, b = pair
    response = signed_peer_post(
        a, load_or_create_identity(b.home), "/peer/storage/manifests", MALFORMED_BODIES[name]
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] in ("INVALID_JSON", "VALIDATION_ERROR")


def bad_manifests(writer: str) -> dict[str, dict[str, Any]]:
    return {
        "traversal path": manifest(writer, path="../../etc/passwd"),
        "absolute path": manifest(writer, path="/etc/passwd"),
        "non-canonical path": manifest(writer, path="a//b"),
        "control character": manifest(writer, path="a\r\nb"),
        "path not a string": manifest(writer, path=["a"]),
        "negative size": manifest(writer, size=-1),
        "size past 2^53": manifest(writer, size=2**53),
        "huge size": manifest(writer, size=10**30),
        "size as string": manifest(writer, size="5"),
        "chunks short of the size": manifest(writer, size=5 * 4 * 1024 * 1024),
        "bad chunk digest": manifest(writer, chunks=["../x"]),
        "chunk not a string": manifest(writer, chunks=[{"a": 1}]),
        "zero chunk size": manifest(writer, chunk_size=0),
        "negative chunk size": manifest(writer, chunk_size=-4),
        "huge timestamp": manifest(writer, modified=1e300),
        "negative timestamp": manifest(writer, modified=-1.0),
        "overflowing timestamp": manifest(writer, modified="1e999"),
        "bad sha256": manifest(writer, sha256='x"\r\nSet-Cookie: a=b'),
        "bad writer": manifest(writer, writer="Robert'); DROP TABLE manifests;--"),
        "tombstone with chunks": manifest(writer, deleted=True),
        "missing field": {k: v for k, v in manifest(writer).items() if k != "size"},
        "extra field": {**manifest(writer), "chunks_extra": []},
    }


BAD_MANIFEST_NAMES = sorted(bad_manifests("x"))


@pytest.mark.parametrize("name", BAD_MANIFEST_NAMES)
def test_implausible_manifest_fields_are_400(pair: list[AgentProcess], name: str) -> None:
    a, b = pair
    sender = load_or_create_identity(b.home)
    body = push(bad_manifests(sender.node_id)[name])
    response = signed_peer_post(a, sender, "/peer/storage/manifests", body)
    assert response.status_code == 400, response.text
    assert call(a, "GET", "/api/storage").json()["count"] == 0


def test_overflowing_number_in_raw_json_is_400(pair: list[AgentProcess]) -> None:
    a, b = pair
    sender = load_or_create_identity(b.home)
    raw = push(manifest(sender.node_id)).replace(b"1700000000.0", b"1e999")
    response = signed_peer_post(a, sender, "/peer/storage/manifests", raw)
    assert response.status_code == 400, response.text


def test_future_or_foreign_manifests_are_ignored(pair: list[AgentProcess]) -> None:
    a, b = pair
    sender = load_or_create_identity(b.home)
    future = manifest(sender.node_id, path="future.bin", modified=4_000_000_000.0)
    stranger = manifest("aaaaaaaaaaaaaaaaaaaaaaaa", path="stranger.bin")
    response = signed_peer_post(a, sender, "/peer/storage/manifests", push(future, stranger))
    assert response.status_code == 200, response.text
    assert call(a, "GET", "/api/storage").json()["count"] == 0


def test_a_plausible_push_is_still_taken(pair: list[AgentProcess]) -> None:
    a, b = pair
    sender = load_or_create_identity(b.home)
    good = manifest(sender.node_id, path="ok/taken.bin")
    response = signed_peer_post(a, sender, "/peer/storage/manifests", push(good))
    assert response.status_code == 200, response.text
    assert "manifests" in response.json()
    paths = [f["path"] for f in call(a, "GET", "/api/storage").json()["files"]]
    assert "ok/taken.bin" in paths
    # Tidy for the other tests of this module, which expect an empty listing.
    assert call(a, "DELETE", "/api/storage/ok/taken.bin").status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"{bad", b"[" * 50_000, b'{"digest": 5}', b'{"digest": "zz"}', b'{"digests": ["../x"]}'],
)
@pytest.mark.parametrize("path", ["/peer/storage/sync", "/peer/storage/pins"])
def test_sync_and_pin_routes_refuse_malformed_bodies(
    pair: list[AgentProcess], path: str, body: bytes
) -> None:
    a, b = pair
    response = signed_peer_post(a, load_or_create_identity(b.home), path, body)
    assert response.status_code == 400, response.text


def test_the_node_still_serves_after_the_attacks(pair: list[AgentProcess]) -> None:
    a, _ = pair
    assert call(a, "GET", "/api/health").status_code == 200
    up = call(a, "POST", "/api/storage/upload?path=after.txt", content=b"fine")
    assert up.status_code == 201, up.text
    assert call(a, "GET", "/api/storage/after.txt").content == b"fine"
