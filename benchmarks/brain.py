#!/usr/bin/env python3
"""The brain: vector recall and latency, indexing throughput, freshness, API latency while
indexing, and retrieval quality, each against a baseline taken in the same run.

1. recall@10 of `VectorIndex` (agent/brain/vectors.py, used directly) against exact numpy
   search, at 100k 384-dim vectors derived from real chunk embeddings (brain_vectors.py says
   how). Goal >= 0.95.
2. Query latency: `VectorIndex.search` at 100k against numpy brute force (goal p50 < 20 ms);
   then `GET /api/brain/search?mode=vector` on the agent against this process encoding the
   query and searching a `VectorIndex` of the same chunks.
3. Indexing throughput: a fresh agent indexes the Factbook corpus (POST /api/brain/reindex,
   chunks embedded / seconds to `done`) against the model's own `encode` of the same chunk
   texts here (agent.brain.extract, agent.brain.chunking, and agent.brain.prepare.embed_text,
   which puts the heading path first as the agent does), timed before and after the agent's
   scan. Goal >= 0.9 x.
4. Write -> searchable (brain_live.py): new files, found by lexical and by vector search, and
   modified files (old word gone, new found). Goal p95 < 2 s. Baseline: encoding one such
   file's text here, the work no index can skip.
5. `GET /api/status` p99 while the agent indexes a large folder against p99 idle, 20 requests
   a second. Goal p99 < 50 ms.
6. recall@5 and MRR@10 of vector, lexical and hybrid search on the labelled set
   (brain_quality.py, benchmarks/data/brain/); the baseline is vector search.

    .venv/bin/python benchmarks/brain.py [--quick] [--json FILE]

--quick (under 3 minutes): 10k vectors, a 50-file corpus, 8 new files, 5 s windows.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import brain_quality
import brain_vectors
from brain_agent import start_brain
from brain_live import freshness, status_latency, status_while_indexing
from brain_report import Measured, finite, notes, rows, table
from brain_vectors import Vectors
from common import BenchError, exit_on_signals, run_main, system_busy_seconds, write_json

from agent.brain.embedder import SentenceEmbedder
from agent.brain.vectors import VectorIndex


@dataclass(frozen=True)
class Plan:
    vectors: int
    real: int
    vector_queries: int
    corpus_files: int | None
    search_queries: int
    new_files: int
    modified: int
    window_s: float
    large_files: int


FULL = Plan(100_000, 2000, 1000, None, 200, 30, 10, 20.0, 160)
QUICK = Plan(10_000, 0, 200, 50, 40, 8, 3, 5.0, 60)
STATUS_HZ = 20.0


def sentences(texts: list[str], count: int) -> list[str]:
    """Whole sentences of the corpus, 60 to 200 characters, in corpus order."""
    found = []
    for text in texts:
        for part in re.split(r"(?<=\.)\s+", text):
            part = part.strip().removeprefix("Background: ")
            if 60 <= len(part) <= 200 and part.endswith(".") and "\n" not in part:
                found.append(part)
    if len(found) < count:
        raise BenchError(f"only {len(found)} sentences in the corpus, {count} wanted")
    return found[:: max(1, len(found) // count)][:count]


def timed_each(work: Any, items: list[Any]) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        work(item)
        out.append(time.perf_counter() - t0)
    return out


def in_process_search(
    embedder: SentenceEmbedder, vectors: Vectors, queries: list[str], k: int
) -> list[float]:
    """Encode each query and search a VectorIndex of the corpus vectors, in this process."""
    with tempfile.TemporaryDirectory(prefix="of-bench-e2e-") as folder:
        index = VectorIndex(Path(folder), vectors.shape[1])
        index.add(list(range(len(vectors))), vectors)
        return timed_each(lambda q: index.search(embedder.encode([q])[0], k), queries)


@dataclass
class Corpus:
    folder: Path
    files: list[Path]
    texts: list[str]
    said: list[str]


def copy_corpus(plan: Plan, work: Path, queries: list[brain_quality.Query]) -> Corpus:
    folder = work / "corpus"
    folder.mkdir()
    for path in brain_quality.corpus_files(plan.corpus_files, queries):
        shutil.copy2(path, folder / path.name)
    files = sorted(folder.glob("*.md"))
    texts = list(brain_vectors.chunk_texts(files))
    return Corpus(folder, files, texts, sentences(texts, max(plan.search_queries, plan.new_files)))


def encode_rate(embedder: SentenceEmbedder, texts: list[str]) -> tuple[float, Vectors]:
    t0 = time.perf_counter()
    vectors = embedder.encode(texts)
    return len(texts) / (time.perf_counter() - t0), vectors


def model_stage(plan: Plan, corpus: Corpus, embedder: SentenceEmbedder) -> dict[str, Any]:
    """Everything measured in this process before the agent starts."""
    print(f"loading the model; encoding {len(corpus.texts)} chunks ...", flush=True)
    embedder.encode(["warm-up"])
    rate, vectors = encode_rate(embedder, corpus.texts)
    print(f"  the model alone: {rate:.1f} chunks/s", flush=True)
    real = vectors
    if plan.real > len(corpus.texts):
        more = list(brain_vectors.chunk_texts(brain_vectors.stdlib_files()))
        more = more[: plan.real - len(corpus.texts)]
        print(f"encoding {len(more)} standard library chunks for the vector set ...", flush=True)
        real = np.concatenate([vectors, embedder.encode(more)])
    print(f"vector index: {plan.vectors:,} derived vectors, exact search ...", flush=True)
    result = brain_vectors.measure(real, plan.vectors, plan.vector_queries)
    print(f"  recall@10 {result.recall:.4f}, p50 {result.p50_ms:.2f} ms", flush=True)
    queries = corpus.said[: plan.search_queries]
    notes = [f"bakivodesu\n\n{s}\n" for s in corpus.said[: plan.new_files]]
    return {
        "rate": rate,
        "vectors": result,
        "search": in_process_search(embedder, vectors, queries, 10),
        "fresh": timed_each(lambda t: embedder.encode([t]), notes),
    }


def run(plan: Plan, work: Path, stack: ExitStack) -> dict[str, Any]:
    queries = brain_quality.load_queries()
    corpus = copy_corpus(plan, work, queries)
    embedder = SentenceEmbedder("")
    here = model_stage(plan, corpus, embedder)

    print("starting an agent (fresh home) and warming its model ...", flush=True)
    brain = start_brain(stack, work / "agent")
    print(f"indexing the corpus through the agent ({brain.server.url}) ...", flush=True)
    scan = brain.reindex({"sources": [str(corpus.folder)]})
    status = brain.wait_idle()
    print(f"  {scan.embedded} chunks in {scan.wall_s:.1f} s: {scan.rate:.1f} chunks/s", flush=True)
    # A second baseline after the agent's scan: drift on the machine hits both alike.
    rate_after, _ = encode_rate(embedder, corpus.texts)
    embedder.unload()
    print(f"  the model alone again: {rate_after:.1f} chunks/s", flush=True)
    quality = brain_quality.evaluate(brain, queries)
    said = corpus.said[: plan.search_queries]
    endpoint = timed_each(lambda q: brain.search(q, "vector", 10), said)
    print(f"freshness: {plan.new_files} new files, {plan.modified} modified ...", flush=True)
    fresh = freshness(brain, corpus.folder / "live", corpus.said, plan.new_files, plan.modified)
    brain.wait_idle()
    large = work / "large"
    large.mkdir()
    for path in brain_vectors.stdlib_files()[: plan.large_files]:
        shutil.copy2(path, large / path.name)
    print(f"GET /api/status: {plan.window_s:.0f} s idle, then as long while indexing ...")
    idle = status_latency(brain, plan.window_s, STATUS_HZ)
    busy = status_while_indexing(brain, [str(corpus.folder), str(large)], plan.window_s, STATUS_HZ)

    measured = Measured(
        vectors=here["vectors"],
        endpoint_s=endpoint,
        endpoint_base_s=here["search"],
        e2e_chunks=int(status["chunks"]),
        scan_rate=scan.rate,
        encode_rate=(here["rate"] + rate_after) / 2,
        fresh=fresh,
        fresh_base_s=here["fresh"],
        idle_s=idle,
        busy=busy,
        quality=quality,
    )
    return {
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows(measured)],
        "vectors": asdict(here["vectors"]),
        "vectors_made": brain_vectors.describe(here["vectors"]),
        "corpus": {"files": len(corpus.files), "chunks": len(corpus.texts)},
        "agent_index": {"files": status["files"], "chunks": status["chunks"]},
        "scan": scan.done | {"wall_s": scan.wall_s},
        "encode_rates": [here["rate"], rate_after],
        "freshness": asdict(fresh),
        "busy": asdict(busy),
        "idle_s": idle,
        "endpoint_s": endpoint,
        "quality": [asdict(q) for q in quality],
        "queries": len(queries),
    }


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its reaped children (the agent, once stopped)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (< 3 min)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    exit_on_signals()
    began, busy0, own0 = time.monotonic(), system_busy_seconds(), own_cpu_seconds()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-bench-brain-")))
        try:
            result = run(plan, work, stack)
        except (BenchError, httpx.HTTPError, OSError) as exc:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    # The agent has been stopped and reaped: its CPU is in this process's children times.
    other = system_busy_seconds() - busy0 - (own_cpu_seconds() - own0)
    result["other_cpu_pct"] = max(0.0, 100 * other / (time.monotonic() - began))
    print("\n" + table(result) + "\n\n" + notes(result))
    if plan is QUICK:
        print("(--quick: smaller sizes; run without it for the figures to quote)")
    write_json(args.json, finite(result))
    return 0


if __name__ == "__main__":
    run_main(main, "the agent")
