"""The vector index alone: recall@10 and query latency of `VectorIndex` against exact search.

How the vectors are made (printed with the results): `n_real` real text chunks (the labelled
Factbook corpus, then the Python standard library's modules, cut by the brain's own chunker,
each as the model reads it in the agent) are embedded with the brain's model. Each of the
`size` indexed vectors and each held-out query is a mixture of two of them plus noise,

    v = normalize((1 - w) * a + w * b + SIGMA * g / sqrt(d)),   w ~ U(0, MIX), g ~ N(0, I)

with `a` and `b` two distinct real vectors drawn at random, so the set keeps the real vectors'
geometry (clusters, anisotropy) while no two points coincide. Queries are drawn the same way
and are not in the index. The exact answer is numpy's brute-force cosine top 10 over the same
float32 vectors; recall@10 is the mean share of it that `VectorIndex.search` returns.
"""

from __future__ import annotations

import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.brain.chunking import chunk
from agent.brain.extract import Extracted, extract
from agent.brain.prepare import embed_text
from agent.brain.vectors import VectorIndex

Vectors = npt.NDArray[np.float32]
K = 10
MIX = 0.5
SIGMA = 0.3
MAX_FILE_BYTES = 2_000_000
EXACT_BATCH = 128


@dataclass
class VectorResult:
    size: int
    n_real: int
    queries: int
    recall: float
    build_s: float
    p50_ms: float
    p99_ms: float
    exact_p50_ms: float
    exact_p99_ms: float
    nn_cos_real: float
    nn_cos_derived: float


def chunk_texts(paths: list[Path]) -> Iterator[str]:
    """What the brain's model reads of these files, in order: each chunk's text, after its
    heading path when it has one."""
    for path in paths:
        found = extract(path, MAX_FILE_BYTES)
        if isinstance(found, Extracted):
            yield from (embed_text(c) for c in chunk(found.text, found.kind))


def stdlib_files() -> list[Path]:
    """The standard library's top-level modules: real prose and code, the same on every run
    of one Python version."""
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))


def derive(real: Vectors, count: int, rng: np.random.Generator) -> Vectors:
    n, d = real.shape
    a = rng.integers(0, n, count)
    b = (a + rng.integers(1, n, count)) % n  # never a itself
    w = rng.uniform(0.0, MIX, (count, 1)).astype(np.float32)
    noise = rng.standard_normal((count, d), dtype=np.float32) * np.float32(SIGMA / np.sqrt(d))
    out = (1 - w) * real[a] + w * real[b] + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    result: Vectors = out.astype(np.float32)
    return result


def exact_top(data: Vectors, queries: Vectors, k: int) -> npt.NDArray[np.int64]:
    """Brute-force cosine top k (the vectors are unit length, so a dot product)."""
    rows = []
    for start in range(0, len(queries), EXACT_BATCH):
        sims = queries[start : start + EXACT_BATCH] @ data.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        rows.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(rows).astype(np.int64)


def nearest_cosine(data: Vectors, sample: Vectors) -> float:
    """Mean cosine of each sample vector to its nearest other vector in `data` (the sample
    rows are rows of `data`, so the best match, itself, is skipped)."""
    sims = sample @ data.T
    return float(np.mean(np.sort(sims, axis=1)[:, -2]))


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


def measure(real: Vectors, size: int, n_queries: int, seed: int = 7) -> VectorResult:
    rng = np.random.default_rng(seed)
    data = derive(real, size, rng)
    queries = derive(real, n_queries, rng)
    truth = exact_top(data, queries, K)
    with tempfile.TemporaryDirectory(prefix="of-bench-hnsw-") as folder:
        index = VectorIndex(Path(folder), real.shape[1])
        started = time.perf_counter()
        index.add(list(range(size)), data)
        build_s = time.perf_counter() - started
        found, hnsw_s = [], []
        for query in queries:
            t0 = time.perf_counter()
            hits = index.search(query, K)
            hnsw_s.append(time.perf_counter() - t0)
            found.append({label for label, _ in hits})
    recall = float(
        np.mean([len(f & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
    )
    exact_s = []
    for query in queries[: min(len(queries), 300)]:
        t0 = time.perf_counter()
        sims = data @ query
        top = np.argpartition(-sims, K)[:K]
        _ = top[np.argsort(-sims[top])]
        exact_s.append(time.perf_counter() - t0)
    sample = min(500, len(real))
    return VectorResult(
        size=size,
        n_real=len(real),
        queries=n_queries,
        recall=recall,
        build_s=build_s,
        p50_ms=percentile_ms(hnsw_s, 50),
        p99_ms=percentile_ms(hnsw_s, 99),
        exact_p50_ms=percentile_ms(exact_s, 50),
        exact_p99_ms=percentile_ms(exact_s, 99),
        nn_cos_real=nearest_cosine(real, real[:sample]),
        nn_cos_derived=nearest_cosine(data, data[:sample]),
    )


def describe(r: VectorResult) -> str:
    return (
        f"{r.size:,} indexed vectors and {r.queries} held-out queries, each a mixture of two of "
        f"{r.n_real:,} real chunk embeddings (weight ~ U(0, {MIX})) plus Gaussian noise of norm "
        f"~{SIGMA}, renormalized; mean cosine to the nearest neighbour: {r.nn_cos_real:.3f} "
        f"among the real vectors, {r.nn_cos_derived:.3f} among the derived ones; index built "
        f"in {r.build_s:.1f} s"
    )
