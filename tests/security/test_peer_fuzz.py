"""A bounded fuzz of the peer API from a real member: malformed bodies and path parameters,
signed correctly, sent to every route of the peer app and with every method it serves.

Nothing may answer 500 (or another 5xx that means "this node failed"), and the node must stay
healthy and in the cluster afterwards. The routes are read from the app itself, so a route
added later is fuzzed without editing this file."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from agent.app import create_app
from tests.harness import AgentProcess, make_settings, online_count, wait_until
from tests.security.peer_support import cluster, identity_of, node_id, peer_client, signed

# A node whose Ollama or storage is down may answer these; they are not its own failure.
DEPENDENCY_ERRORS = {502, 503, 504, 507}
KEYS = [
    "members", "cluster_id", "records", "nodes", "version", "telemetry", "capabilities",
    "membership", "token_id", "secret", "node", "manifests", "holders", "digest", "digests",
    "task_id", "command", "env", "cwd", "timeout_s", "model", "messages", "options",
]  # fmt: skip
WRONG = [None, True, 0, -1, 1.5, 10**30, [], {}, [1, "a", None], {"a": {"b": [None]}}]


def bodies() -> list[tuple[str, bytes]]:
    fixed: list[tuple[str, bytes]] = [
        ("empty", b""),
        ("truncated", b'{"members": ['),
        ("deep arrays", b"[" * 100_000),
        ("deep objects", b'{"a":' * 50_000),
        ("deep inside a field", b'{"members": ' + b"[" * 50_000),
        ("null", b"null"),
        ("array", b"[]"),
        ("string", b'"text"'),
        ("number", b"1"),
        ("NaN", b"NaN"),
        ("NaN field", b'{"timeout_s": NaN, "telemetry": {"cpu": Infinity}}'),
        ("-Infinity", b"-Infinity"),
        ("1e999", b"1e999"),
        ("5000 digits", b"9" * 5000),
        ("5000-digit field", b'{"version": ' + b"9" * 5000 + b"}"),
        ("long string", b'"' + b"a" * 500_000 + b'"'),
        ("long key", b'{"' + b"k" * 200_000 + b'": 1}'),
        ("not UTF-8", b"\xff\xfe\x00{"),
        ("lone surrogate", b'{"task_id": "\\ud800", "secret": "\\udfff"}'),
        ("NUL bytes", b'{"cluster_id": "\\u0000"}'),
        ("missing fields", b"{}"),
        ("many keys", json.dumps({f"k{i}": i for i in range(20_000)}).encode()),
    ]
    rng = random.Random(12)
    for value in WRONG:
        fixed.append((f"every field {value!r}"[:40], json.dumps({k: value for k in KEYS}).encode()))
    for i in range(12):
        mixed = {k: rng.choice(WRONG) for k in rng.sample(KEYS, 8)}
        fixed.append((f"mixed wrong types #{i}", json.dumps(mixed).encode()))
    return fixed


PARAMS = ["x", "0" * 64, "g" * 64, "..%2F..%2Fetc%2Fpasswd", "%00", "%ff%fe", "a" * 4000, "é"]


def peer_routes(home: Path) -> list[tuple[str, list[str]]]:
    app = create_app(make_settings(home))
    found = []
    for route in app.state.peer_app.routes:
        if isinstance(route, Route) and route.methods:
            found.append((route.path, sorted(route.methods - {"HEAD"})))
    return found


def fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    with cluster(tmp_path_factory.mktemp("fuzz"), 2) as agents:
        yield agents


def failed(response: httpx.Response) -> bool:
    return response.status_code >= 500 and response.status_code not in DEPENDENCY_ERRORS


def test_malformed_input_never_fails_a_node(tmp_path: Path, pair: list[AgentProcess]) -> None:
    receiver, caller = pair
    identity, receiver_id = identity_of(caller), node_id(receiver)
    routes = peer_routes(tmp_path / "routes")
    assert any(path.startswith("/peer/") for path, _ in routes)
    failures: list[dict[str, Any]] = []
    sent = 0

    def send(client: httpx.Client, method: str, target: str, body: bytes, what: str) -> None:
        nonlocal sent
        sent += 1
        headers = signed(identity, receiver_id, method, target, body)
        try:
            response = client.request(method, target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            failures.append(
                {"method": method, "path": target[:120], "input": what, "error": repr(exc)}
            )
            return
        if failed(response):
            failures.append(
                {
                    "method": method,
                    "path": target[:120],
                    "input": what,
                    "status": response.status_code,
                    "answer": response.text[:300],
                }
            )

    with peer_client(receiver, timeout=30) as client:
        for template, methods in routes:
            target = fill(template, "0" * 64)
            for method in methods:
                for what, body in bodies() if method != "GET" else bodies()[:3]:
                    # A chunk is addressed by its digest: the body then reaches the store.
                    own = fill(template, hashlib.sha256(body).hexdigest())
                    send(client, method, own if method == "PUT" else target, body, what)
                for value in PARAMS:
                    send(
                        client,
                        method,
                        fill(template, value),
                        b"{}",
                        f"path parameter {value[:20]!r}",
                    )
            send(client, "DELETE", target, b"", "a method the route does not serve")
    assert sent < 2000
    assert not failures, "\n".join(json.dumps(f) for f in failures)
    wait_until(lambda: online_count(receiver) == 2, 15, "the fuzzed node to stay in the cluster")
    wait_until(lambda: online_count(caller) == 2, 15, "the fuzzing node to still see it online")
