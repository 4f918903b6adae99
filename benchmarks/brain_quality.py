"""Retrieval quality on the labelled Factbook set, through the agent's search endpoint.

Each query of benchmarks/data/brain/queries.json names the corpus files that answer it. A
query's hits (k=10 chunks, best first) are read as the files they come from: recall@5 is the
share of its relevant files among the files of the first 5 hits, and MRR@10 is 1/rank of the
first hit from a relevant file (0 if none of the 10 is). Both are averaged over the queries,
for each mode: vector, lexical, hybrid.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brain_agent import Brain

DATA = Path(__file__).resolve().parent / "data" / "brain"
CORPUS = DATA / "factbook"
QUERIES = DATA / "queries.json"
MODES = ("vector", "lexical", "hybrid")
K = 10


@dataclass(frozen=True)
class Query:
    q: str
    kind: str
    relevant: frozenset[str]


@dataclass
class Quality:
    mode: str
    recall_at_5: float
    mrr_at_10: float
    by_kind: dict[str, tuple[float, float]]


def load_queries() -> list[Query]:
    data = json.loads(QUERIES.read_text(encoding="utf-8"))
    queries = [Query(e["q"], e["kind"], frozenset(e["relevant"])) for e in data["queries"]]
    names = {p.name for p in CORPUS.glob("*.md")}
    unknown = sorted({r for q in queries for r in q.relevant} - names)
    if unknown:
        raise ValueError(f"{QUERIES} names files that are not in {CORPUS}: {unknown}")
    return queries


def corpus_files(limit: int | None, queries: list[Query]) -> list[Path]:
    """The whole corpus, or (--quick) every relevant file plus a fixed random sample of the
    others, `limit` in all: the queries keep their answers, with fewer distractors."""
    files = sorted(CORPUS.glob("*.md"))
    if limit is None or limit >= len(files):
        return files
    relevant = {r for q in queries for r in q.relevant}
    keep = [p for p in files if p.name in relevant]
    others = [p for p in files if p.name not in relevant]
    random.Random(5).shuffle(others)
    return sorted(keep + others[: max(0, limit - len(keep))])


def score(hits: list[dict[str, Any]], relevant: frozenset[str]) -> tuple[float, float]:
    names = [Path(h["path"]).name for h in hits[:K]]
    recall = len(relevant & set(names[:5])) / len(relevant)
    rank = next((i for i, name in enumerate(names, start=1) if name in relevant), None)
    return recall, 0.0 if rank is None else 1.0 / rank


def evaluate(brain: Brain, queries: list[Query]) -> list[Quality]:
    out = []
    for mode in MODES:
        scores = [(q.kind, score(brain.search(q.q, mode, K), q.relevant)) for q in queries]
        by_kind = {}
        for kind in sorted({k for k, _ in scores}):
            mine = [s for k, s in scores if k == kind]
            by_kind[kind] = (mean([r for r, _ in mine]), mean([m for _, m in mine]))
        recalls = [r for _, (r, _) in scores]
        mrrs = [m for _, (_, m) in scores]
        out.append(Quality(mode, mean(recalls), mean(mrrs), by_kind))
    return out


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
