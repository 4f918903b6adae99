"""A node back from a restart answers storage reads as the cluster stands, not as it left it."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import pytest

from tests.harness import (
    AgentProcess,
    agent_process,
    agent_processes,
    call,
    form_cluster,
    wait_until,
)

ROUNDS = 3


def names(agent: AgentProcess) -> set[str]:
    response = call(agent, "GET", "/api/storage")
    assert response.status_code == 200, response.text
    return {f["path"] for f in response.json()["files"]}


def synced_gauge(agent: AgentProcess) -> float:
    families = call(agent, "GET", "/api/metrics").json()["metrics"]
    family = next(f for f in families if f["name"] == "openfabric_storage_synced")
    return float(family["samples"][0]["value"])


@pytest.mark.slow
def test_a_restarted_node_never_shows_a_file_deleted_while_it_was_down(tmp_path: Path) -> None:
    homes = [tmp_path / f"node{i}" for i in range(3)]
    with agent_processes(homes) as agents, contextlib.ExitStack() as restarts:
        form_cluster(agents)
        writer, back, witness = agents
        for round_ in range(ROUNDS):
            doomed, born = f"doomed-{round_}.txt", f"born-{round_}.txt"
            response = call(writer, "POST", f"/api/storage/upload?path={doomed}", content=b"x")
            assert response.status_code == 201, response.text
            wait_until(
                lambda f=doomed, a=back: f in names(a), 30, f"{doomed} on the node to restart"
            )

            back.process.send_signal(signal.SIGKILL)
            back.process.wait(10)
            assert call(writer, "DELETE", f"/api/storage/{doomed}").status_code == 200
            response = call(writer, "POST", f"/api/storage/upload?path={born}", content=b"y")
            assert response.status_code == 201, response.text

            # agent_process returns as soon as /api/health answers: these are the first reads.
            back = restarts.enter_context(agent_process(back.home))
            seen = names(back)
            assert doomed not in seen
            assert born in seen
            assert call(back, "GET", f"/api/storage/{doomed}").status_code == 404
            assert synced_gauge(back) == 1.0
            for other in (writer, witness):
                assert doomed not in names(other)
