#!/usr/bin/env python3
"""Memory: semantic search over 10,000 facts through the service, against a bare numpy top-k
over the same matrix, each measured in the same run.

A fresh memory (real SQLite in a temporary folder, the brain's real model) is filled through
`MemoryService.remember` in batches of 64 with 10,000 distinct generated facts (each names a
different project number, so none is a near-duplicate of another); that fill is timed
against the model's own `encode` of the same texts in the same batches (mean of a run before
and one after the fill, each in a worker thread as in the agent). Then, for held-out queries:

1. `MemoryService.search(q, k=10)` p50 and p99 with the query's encoding excluded: the
   queries are encoded beforehand and the service's encoder answers them from that cache, so
   what is timed is the worker-thread hop, the matrix top-k, reading the facts from SQLite and
   building the answer. Baseline: `scores = M @ q; argpartition; sort` in numpy over a copy of
   the same float32 matrix.
2. `FactMatrix.top` alone (the index without the service) against the same baseline.
3. Encoding one query with the model (in a worker thread, as the service does), reported
   separately: it is most of a real search.
4. Loading the 10,000 stored vectors into the matrix at start, against reading the same
   blobs from SQLite and `np.frombuffer` of each (best of 3 each, alternated).

    .venv/bin/python benchmarks/memory.py [--quick] [--json FILE]

--quick: 2,000 facts, 100 queries (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_main, write_json

from agent.brain.embedder import SentenceEmbedder
from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.recollection import FactClaim
from agent.memory.book import FactBook
from agent.memory.index import FactIndex
from agent.memory.ledger import Ledger
from agent.memory.record import Stamper
from agent.memory.service import MemoryService
from agent.memory.store import MemoryStore

Vectors = npt.NDArray[np.float32]
K = 10
BATCH = 64
ITEMS = ["invoice", "contract", "laptop", "router", "passport", "spare key", "backup drive"]
PLACES = ["the blue cabinet", "the attic", "drawer three", "the office safe", "the garage"]
PEOPLE = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana"]
VERBS = ["keeps", "lent", "repaired", "ordered", "archived", "signed"]


class CachedEncoder:
    """The real model, answering texts it has already encoded from memory."""

    def __init__(self, model: SentenceEmbedder) -> None:
        self.model = model
        self.name = model.name
        self.cache: dict[str, Vectors] = {}

    def problem(self) -> str | None:
        return self.model.problem()

    def encode(self, texts: list[str]) -> Vectors:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            for text, vector in zip(missing, self.model.encode(missing), strict=True):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])


def fact_text(i: int) -> str:
    person, verb = PEOPLE[i % len(PEOPLE)], VERBS[(i // 8) % len(VERBS)]
    item, place = ITEMS[(i // 48) % len(ITEMS)], PLACES[(i // 336) % len(PLACES)]
    return f"{person} {verb} the {item} of project {i}, now in {place}"


def query_text(i: int) -> str:
    return (
        f"where is the {ITEMS[i % len(ITEMS)]} that {PEOPLE[i % len(PEOPLE)]} has, project {i * 7}"
    )


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


@dataclass
class Row:
    name: str
    measured: float
    baseline: float
    unit: str
    base_label: str = ""

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else math.nan


def encode_in_batches(model: SentenceEmbedder, texts: list[str]) -> float:
    """Seconds the model takes for `texts` in remember's batches (the fill's floor). Run in
    a worker thread, as the agent runs it: torch on the main thread measured up to 5x
    slower on a loaded 2-core machine."""
    began = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        model.encode(texts[start : start + BATCH])
    return time.perf_counter() - began


def numpy_top(matrix: Vectors, query: Vectors, k: int) -> list[int]:
    scores = matrix @ query
    best = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in best[np.argsort(-scores[best])]]


async def measure(facts: int, queries: int, folder: Path) -> dict[str, Any]:
    model = SentenceEmbedder("")
    model.encode(["warm up"])
    texts = [fact_text(i) for i in range(facts)]
    encode_s = [await anyio.to_thread.run_sync(encode_in_batches, model, texts)]

    encoder = CachedEncoder(SentenceEmbedder(""))
    db = Database(folder / "fabric.db")
    await db.open()
    try:
        store = MemoryStore(db)
        await store.migrate()
        index = FactIndex(encoder, store, anyio.Lock())
        book = FactBook(store, Ledger(), index, EventBus(), Stamper("benchnode", time.time))
        await book.load()
        service = MemoryService(book)
        encoder.model.encode(["warm up"])
        began = time.perf_counter()
        for start in range(0, facts, BATCH):
            claims = [FactClaim(t) for t in texts[start : start + BATCH]]
            await service.remember(claims, source="manual", session_id=None)
            encoder.cache.clear()
        fill_s = time.perf_counter() - began
        assert book.ledger.live == facts, book.ledger.live
        encode_s.append(await anyio.to_thread.run_sync(encode_in_batches, model, texts))

        asked = [query_text(i) for i in range(queries)]
        encode_one = []
        for text in asked:
            began = time.perf_counter()
            await anyio.to_thread.run_sync(encoder.encode, [text])
            encode_one.append(time.perf_counter() - began)
        assert index.matrix is not None
        matrix = np.array(index.matrix._data[: len(index.matrix)])
        service_s, top_s, numpy_s = [], [], []
        for _ in range(3):  # repeated rounds, so one pause does not decide a percentile
            for text in asked:
                query = encoder.cache[text]
                began = time.perf_counter()
                answer = await service.search(text, K)
                service_s.append(time.perf_counter() - began)
                began = time.perf_counter()
                index.nearest(query, K)
                top_s.append(time.perf_counter() - began)
                began = time.perf_counter()
                numpy_top(matrix, query, K)
                numpy_s.append(time.perf_counter() - began)
                assert answer.count == K

        load_s, read_s = [], []
        for _ in range(3):  # alternated, so neither gets the warmer page cache alone
            began = time.perf_counter()
            await FactIndex(encoder, store, anyio.Lock()).load()
            load_s.append(time.perf_counter() - began)
            began = time.perf_counter()
            blobs = await store.vectors(index.model)
            np.stack([np.frombuffer(b, dtype=np.float32) for _, b in blobs])
            read_s.append(time.perf_counter() - began)
    finally:
        await db.close()

    size = f"{facts // 1000}k" if facts >= 1000 else str(facts)
    rows = [
        Row(f"service search p50 at {size} (no encode)", percentile_ms(service_s, 50),
            percentile_ms(numpy_s, 50), "ms", "numpy top-k"),
        Row(f"service search p99 at {size} (no encode)", percentile_ms(service_s, 99),
            percentile_ms(numpy_s, 99), "ms", "numpy top-k"),
        Row(f"FactMatrix.top p50 at {size}", percentile_ms(top_s, 50),
            percentile_ms(numpy_s, 50), "ms", "numpy top-k"),
        Row("encode one query p50", percentile_ms(encode_one, 50), percentile_ms(service_s, 50),
            "ms", "service search"),
        Row(f"fill {size} through remember", facts / fill_s,
            facts / float(np.mean(encode_s)), "/s", "model encode"),
        Row(f"load {size} vectors at start", min(load_s) * 1000, min(read_s) * 1000, "ms",
            "SQL + np.frombuffer"),
    ]  # fmt: skip
    return {
        "facts": facts,
        "queries": queries,
        "rounds": 3,
        "encode_rates": [facts / s for s in encode_s],
        "cpus": os.cpu_count(),
        "rows": [{**r.__dict__, "ratio": r.ratio} for r in rows],
    }


def fmt(value: float, unit: str) -> str:
    return f"{value:.2f} ms" if unit == "ms" else f"{value:.0f}{unit}"


def table(result: dict[str, Any]) -> str:
    head = f"{'measurement':40} {'measured':>10} {'baseline':>10} {'ratio':>6}  baseline is"
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(
            f"{r['name']:40} {fmt(r['measured'], r['unit']):>10} "
            f"{fmt(r['baseline'], r['unit']):>10} {r['ratio']:>6.2f}  {r['base_label']}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 facts, 100 queries")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    facts, queries = (2_000, 100) if args.quick else (10_000, 200)
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as folder:
        result = asyncio.run(measure(facts, queries, Path(folder)))
    print(table(result))
    print(
        f"\n{facts} facts, {queries} queries x {result['rounds']} rounds, k={K}, "
        f"{result['cpus']} cores. Query encoding is excluded from the service rows."
    )
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    run_main(main)
