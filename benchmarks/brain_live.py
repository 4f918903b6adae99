"""Live measurements on a running agent: write -> searchable latency, and API latency while
the brain indexes.

Freshness: files are written one at a time into a watched source, each holding a made-up word
no other file has and one real sentence. From just before the write, `GET /api/brain/search`
is polled (every POLL_S) until the file's path is among the hits: lexical search for the word
(k=1), or, for every VECTOR_EVERY-th file, vector search for the file's whole text (k=3, since
vector search ranks by meaning and a neighbour may tie). Modifications rewrite a file with a
new word and poll until the new word finds it and the old one no longer does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from brain_agent import Brain, same_file
from common import BenchError, tree_cpu_seconds

POLL_S = 0.02
FOUND_TIMEOUT_S = 30.0
VECTOR_EVERY = 6
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def made_up_word(rng: random.Random) -> str:
    """Five random syllables: no dictionary word, no word of any corpus here."""
    return "".join(rng.choice(SYLLABLES) for _ in range(5))


@dataclass
class Freshness:
    lexical_s: list[float] = field(default_factory=list)
    vector_s: list[float] = field(default_factory=list)
    modify_s: list[float] = field(default_factory=list)
    missed: int = 0


def _has(hits: list[dict[str, Any]], path: Path) -> bool:
    return any(same_file(h["path"], path) for h in hits)


def _poll(condition: Callable[[], bool], started: float) -> float | None:
    """Seconds from `started` to the end of the first request that satisfied `condition`."""
    while True:
        if condition():
            return time.perf_counter() - started
        if time.perf_counter() - started > FOUND_TIMEOUT_S:
            return None
        time.sleep(POLL_S)


def _found(brain: Brain, path: Path, query: str, by_vector: bool) -> bool:
    if by_vector:
        return _has(brain.search(query, "vector", 3), path)
    return _has(brain.search(query, "lexical", 1), path)


def _replaced(brain: Brain, path: Path, old: str, new: str) -> bool:
    return _found(brain, path, new, False) and not _found(brain, path, old, False)


def freshness(
    brain: Brain, folder: Path, sentences: list[str], n_files: int, n_modify: int
) -> Freshness:
    rng = random.Random(20240611)
    folder.mkdir(parents=True, exist_ok=True)
    result = Freshness()
    written: list[tuple[Path, str, str]] = []
    for i in range(n_files):
        path, word, sentence = folder / f"note-{i:03d}.txt", made_up_word(rng), sentences[i]
        text = f"{word}\n\n{sentence}\n"
        by_vector = i % VECTOR_EVERY == VECTOR_EVERY - 1
        started = time.perf_counter()
        path.write_text(text, encoding="utf-8")
        query = text if by_vector else word
        took = _poll(lambda: _found(brain, path, query, by_vector), started)  # noqa: B023
        if took is None:
            result.missed += 1
        else:
            (result.vector_s if by_vector else result.lexical_s).append(took)
        written.append((path, word, sentence))
    for path, old, sentence in written[:n_modify]:
        new = made_up_word(rng)
        started = time.perf_counter()
        path.write_text(f"{new}\n\n{sentence}\n", encoding="utf-8")
        took = _poll(lambda: _replaced(brain, path, old, new), started)  # noqa: B023
        if took is None:
            result.missed += 1
        else:
            result.modify_s.append(took)
    return result


def status_latency(brain: Brain, seconds: float, rate_hz: float) -> list[float]:
    """`GET /api/status` at `rate_hz` (one request in flight, one keep-alive connection) for
    `seconds`: each request's seconds from write to last byte."""
    out: list[float] = []
    headers = {"Authorization": f"Bearer {brain.server.token}"}
    with httpx.Client(base_url=brain.server.url, headers=headers, timeout=30.0) as http:
        http.get("/api/status")  # the connection is open before anything is timed
        begin = time.perf_counter()
        n = 0
        while time.perf_counter() - begin < seconds:
            t0 = time.perf_counter()
            response = http.get("/api/status")
            out.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise BenchError(f"GET /api/status: {response.status_code} {response.text}")
            n += 1
            time.sleep(max(0.0, begin + n / rate_hz - time.perf_counter()))
    return out


@dataclass
class Busy:
    latencies_s: list[float]
    agent_cpu_pct: float
    embedded_by_end: int
    indexing_throughout: bool


def status_while_indexing(brain: Brain, sources: list[str], seconds: float, rate_hz: float) -> Busy:
    """Replace the sources with `sources` (adding a large folder), then measure `/api/status`
    for `seconds` from the moment the scan has found more files than were indexed, while the
    scan goes on in another thread; also the agent's CPU over the window (near 100 % per core
    while it encodes)."""
    indexed = int(brain.status()["files"])
    seen: list[dict[str, Any]] = []
    failure: list[BaseException] = []

    def scan() -> None:
        try:
            brain.reindex({"sources": sources}, seen.append)
        except (BenchError, httpx.HTTPError) as exc:
            failure.append(exc)

    worker = threading.Thread(target=scan, name="reindex", daemon=True)
    worker.start()
    deadline = time.monotonic() + 60.0
    while not (seen and seen[-1]["files_seen"] > indexed):
        if failure or not worker.is_alive() or time.monotonic() > deadline:
            raise BenchError(f"the large scan did not start: {failure or seen[-1:]}")
        time.sleep(0.05)
    agent = psutil.Process(brain.server.pid)
    cpu0, t0 = tree_cpu_seconds(agent), time.perf_counter()
    latencies = status_latency(brain, seconds, rate_hz)
    cpu_pct = 100 * (tree_cpu_seconds(agent) - cpu0) / (time.perf_counter() - t0)
    if failure:
        raise BenchError(f"the large scan failed: {failure[0]}")
    # The scan is left running: the agent is stopped after this measurement.
    still = bool(brain.status()["indexing"]) and worker.is_alive()
    return Busy(latencies, cpu_pct, seen[-1]["chunks_embedded"], still)
