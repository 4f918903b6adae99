"""Helpers for tests against a live agent's brain (real model, real watching)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import AgentProcess, call, replay_events, wait_until

# The first encode loads the model (seconds, more on a busy machine).
SETTLE_S = 120.0


def status(agent: AgentProcess) -> dict[str, Any]:
    response = call(agent, "GET", "/api/brain/status")
    assert response.status_code == 200, response.text
    return dict(response.json())


def search(agent: AgentProcess, q: str, **params: Any) -> dict[str, Any]:
    response = call(agent, "GET", "/api/brain/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def paths(answer: dict[str, Any]) -> list[str]:
    return [hit["path"] for hit in answer["hits"]]


def settled(agent: AgentProcess, timeout: float = SETTLE_S) -> dict[str, Any]:
    """Status once nothing is queued or being indexed and the index holds every chunk."""

    def quiet() -> dict[str, Any] | None:
        now = status(agent)
        idle = not now["indexing"] and now["queue"] == 0 and now["vectors"] == now["chunks"]
        return now if idle else None

    return dict(wait_until(quiet, timeout, "the brain to settle"))


def found(agent: AgentProcess, path: Path, q: str, mode: str, timeout: float = SETTLE_S) -> None:
    wait_until(
        lambda: str(path) in paths(search(agent, q, mode=mode, k=5)),
        timeout,
        f"{path.name} to be found for {q!r} ({mode})",
    )


def gone(agent: AgentProcess, path: Path, q: str, mode: str, timeout: float = 10) -> None:
    wait_until(
        lambda: str(path) not in paths(search(agent, q, mode=mode, k=50)),
        timeout,
        f"{path.name} to leave the results for {q!r} ({mode})",
    )


def events_about(agent: AgentProcess, topic: str, path: Path) -> list[dict[str, Any]]:
    return [e for t, e in replay_events(agent, topic) if t == topic and e["path"] == str(path)]
