"""A real agent with a brain, for `brain.py`: started, warmed up, and spoken to over HTTP.

The agent is `python -m agent` on free ports (benchmarks/common.py), in a fresh home, with
`--brain-paths` set to a warm-up folder of one small file: that file is indexed first, so the
model is loaded before anything is timed. Timed scans then replace the sources through
`POST /api/brain/reindex {"sources": [...]}` and read its SSE stream to the `done` event.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import BenchError, Server, start_agent

LOOPBACK = ("--peer-host", "127.0.0.1", "--advertise-address", "127.0.0.1", "--mdns", "off")
WARMUP_TEXT = "A short note that is indexed first, so the embedding model is loaded.\n"
SCAN_TIMEOUT_S = 1800.0
IDLE_TIMEOUT_S = 120.0


@dataclass
class ScanResult:
    wall_s: float
    done: dict[str, Any]
    progress: list[dict[str, Any]]

    @property
    def embedded(self) -> int:
        return int(self.done["chunks_embedded"])

    @property
    def rate(self) -> float:
        """Chunks embedded per second, from just before the POST to the `done` event."""
        return self.embedded / self.wall_s if self.wall_s > 0 else 0.0


class Brain:
    def __init__(self, server: Server) -> None:
        self.server = server
        auth = {"Authorization": f"Bearer {server.token}"}
        self.http = httpx.Client(base_url=server.url, headers=auth, timeout=60.0)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(path, params=params or None)
        if response.status_code != 200:
            raise BenchError(f"GET {path} {params}: {response.status_code} {response.text}")
        return dict(response.json())

    def status(self) -> dict[str, Any]:
        return self.get("/api/brain/status")

    def search(self, q: str, mode: str, k: int = 10) -> list[dict[str, Any]]:
        return list(self.get("/api/brain/search", q=q, mode=mode, k=k)["hits"])

    def reindex(
        self, body: dict[str, Any], on_progress: Callable[[dict[str, Any]], None] | None = None
    ) -> ScanResult:
        """POST /api/brain/reindex and follow its stream to `done`."""
        progress: list[dict[str, Any]] = []
        started = time.perf_counter()
        timeout = httpx.Timeout(SCAN_TIMEOUT_S, connect=10.0)
        with self.http.stream("POST", "/api/brain/reindex", json=body, timeout=timeout) as r:
            if r.status_code != 200:
                raise BenchError(f"POST /api/brain/reindex {body}: {r.status_code} {r.read()!r}")
            event = ""
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:])
                    if event == "error":
                        raise BenchError(f"reindex failed: {data}")
                    if event == "done":
                        return ScanResult(time.perf_counter() - started, data, progress)
                    progress.append(data)
                    if on_progress is not None:
                        on_progress(data)
        raise BenchError("the reindex stream ended without a done event")

    def wait_idle(self, timeout: float = IDLE_TIMEOUT_S) -> dict[str, Any]:
        """The status once nothing is queued or being indexed."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if not status["indexing"] and status["queue"] == 0:
                return status
            if time.monotonic() > deadline:
                raise BenchError(f"the brain was still indexing after {timeout:.0f} s: {status}")
            time.sleep(0.05)


def start_brain(stack: ExitStack, workdir: Path) -> Brain:
    """An agent whose only source is a one-file warm-up folder, indexed (model loaded)."""
    warmup = workdir / "warmup"
    warmup.mkdir(parents=True)
    (warmup / "warmup.txt").write_text(WARMUP_TEXT, encoding="utf-8")
    server = start_agent(stack, workdir / "agent", *LOOPBACK, "--brain-paths", str(warmup))
    brain = Brain(server)
    stack.callback(brain.close)
    status = brain.status()
    if not status["available"]:
        raise BenchError(f"the agent's brain is unavailable: {status['unavailable_reason']}")
    brain.reindex({})
    brain.wait_idle()
    if not brain.status()["model_loaded"]:
        raise BenchError("the warm-up scan did not load the embedding model")
    return brain


def same_file(a: str, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
