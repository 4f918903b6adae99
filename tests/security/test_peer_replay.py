"""Finding 5: a signed request cannot be replayed: not to another node, not after the
receiver restarts, and not with a timestamp that slips through the window check.

Each attack replays a request exactly as a member sent it (same headers, same body) against
real agents; the command it carries appends a line to a file, so a second run shows."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import AgentProcess, agent_process
from tests.security.peer_support import (
    cluster,
    error_code,
    identity_of,
    node_id,
    peer_client,
    peer_port,
    raw_request,
    signed,
)

EXEC = "/peer/tasks/exec"


def exec_body(marker: Path) -> bytes:
    command = f"echo ran >> {marker}"
    return json.dumps({"task_id": f"t{time.monotonic_ns()}", "command": command}).encode()


def post(agent: AgentProcess, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with peer_client(agent) as client:
        return client.post(path, content=body, headers=headers)


def runs(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def test_a_request_signed_for_one_node_does_not_run_on_another(
    tmp_path: Path, trio: list[AgentProcess]
) -> None:
    caller, meant_for, other = trio[1], trio[0], trio[2]
    marker = tmp_path / "ran"
    body = exec_body(marker)
    headers = signed(identity_of(caller), node_id(meant_for), "POST", EXEC, body)
    first = post(meant_for, EXEC, body, headers)
    assert first.status_code == 200, first.text
    assert '"event":"exit"' in first.text
    assert runs(marker) == 1
    # The node it was sent to passes it on (or leaks it) to another member.
    replayed = post(other, EXEC, body, headers)
    assert replayed.status_code == 401, replayed.text
    assert error_code(replayed) == "WRONG_RECEIVER"
    assert runs(marker) == 1


@pytest.mark.slow
@pytest.mark.parametrize("lead", [0.0, 30.0], ids=["same-clock", "caller-clock-ahead"])
def test_a_request_is_not_run_again_after_the_receiver_restarts(
    tmp_path: Path, lead: float
) -> None:
    marker = tmp_path / "ran"
    with cluster(tmp_path, 2) as (receiver, caller):
        body = exec_body(marker)
        stamp = f"{time.time() + lead:.3f}"
        headers = signed(
            identity_of(caller), node_id(receiver), "POST", EXEC, body, timestamp=stamp
        )
        assert post(receiver, EXEC, body, headers).status_code == 200
        assert runs(marker) == 1
        receiver.stop()
        with agent_process(receiver.home) as restarted:
            replayed = post(restarted, EXEC, body, headers)
            assert replayed.status_code == 401, replayed.text
            # Signed before the restart: stale; signed "later" by a fast clock: remembered.
            expected = "STALE_REQUEST" if lead == 0 else "REPLAYED_REQUEST"
            assert error_code(replayed) == expected
            assert runs(marker) == 1


MALFORMED = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "infinity",
    "1e999",
    "1e3",
    "  12",
    "+1700000000",
    "-1700000000",
    "0x10",
    "1_700_000_000",
    "1700000000.1234567",
    "1234567890123",
    "1700000000.",
    ".5",
]


def test_timestamps_that_are_not_plain_seconds_are_refused(
    tmp_path: Path, trio: list[AgentProcess]
) -> None:
    receiver, caller = trio[0], trio[1]
    identity = identity_of(caller)
    marker = tmp_path / "ran"
    body = exec_body(marker)
    for stamp in [*MALFORMED, f"{time.time():.3f}".replace("1", "\u0661", 1)]:
        headers = signed(identity, node_id(receiver), "POST", EXEC, body, timestamp=stamp)
        status, answer = raw_request(peer_port(receiver), "POST", EXEC, headers, body)
        assert status == 401, (stamp, answer)
        assert json.loads(answer)["error_code"] in ("UNSIGNED_REQUEST", "STALE_REQUEST"), stamp
    assert runs(marker) == 0
