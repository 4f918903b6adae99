"""Model sharding planner: does a model fit on one node, across several, or not at all?

Pure functions over Ollama's ``/api/show`` answer and a snapshot of node memory; no I/O.
All sizes are bytes (GiB = 2**30, MiB = 2**20).

Estimates (:func:`estimate`):

* ``bpw`` (bits per weight) from ``details.quantization_level`` via :data:`BITS_PER_WEIGHT`;
  an unknown level assumes 16 and adds a warning.
* weights ``W`` = the model's size on disk (``/api/tags``) when known, else
  ``general.parameter_count`` (or ``details.parameter_size``, e.g. "8.0B") * bpw / 8.
* embedding/output share ``E`` = 2 * embedding_length * vocab_size * bpw / 8 when the vocabulary
  size is known (``<arch>.vocab_size`` or the tokenizer's token list), else 5 % of W; at most
  W / 2. In a split the first node carries ceil(E / 2) (token embeddings), the last floor(E / 2)
  (output head).
* per-layer weights ``w`` = ceil((W - E) / block_count).
* KV cache for context C, f16 (2 bytes): per layer ``kv`` = C * head_count_kv * 2 (K and V) *
  head_dim * 2, head_dim = embedding_length / head_count (``attention.key_length`` and
  ``value_length`` replace 2 * head_dim when given); KV = block_count * kv. head_count_kv
  defaults to head_count; a per-layer list uses its maximum. C defaults to
  min(model context_length, 8192).
* runtime overhead ``O`` = 500 MiB per running instance (compute buffers, runtime, CUDA context).
* total need ``T`` = W + KV + O.

Node memory (:func:`usable_bytes`): usable = free_vram + free_ram - reserve, floored at 0. VRAM
and RAM are pooled because Ollama offloads the layers that do not fit in VRAM to the CPU: slower,
but it runs. The default reserve is max(1 GiB, 10 % of free_vram + free_ram): the floor keeps the
OS and agent alive on small nodes, the percentage scales with large ones. Offline nodes are never
used.

Verdicts (:func:`plan`), in order of preference:

* ``single_node``: online nodes with usable ≥ T, in ``fits_on`` best first: nodes whose free VRAM
  alone holds T, then by usable memory, largest first.
* ``split``: the layers are cut into contiguous ranges [start, end) over online nodes ordered by
  usable memory (largest first); each node's share is ∝ its usable memory. A node holds
  n * (w + kv) + O (+ its embedding/output share) ≤ its usable memory; nodes that cannot hold
  one layer in their position are left out, and rounding never pushes a node over its memory.
* ``infeasible``: ``shortfall_bytes`` = max(0, T - total usable of online nodes). It is 0 when the
  memory suffices in aggregate but cannot be divided at layer granularity (a warning says so).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

from agent.llm.models_plan import ModelEstimates, ModelFit, ModelPlacement, ModelShard

MIB = 1 << 20
GIB = 1 << 30
DEFAULT_CONTEXT = 8192
RUNTIME_OVERHEAD = 500 * MIB
RESERVE_FLOOR = GIB
RESERVE_FRACTION = 0.10
EMBEDDING_FALLBACK_SHARE = 0.05
UNKNOWN_BPW = 16.0
# fmt: off
BITS_PER_WEIGHT: dict[str, float] = {
    "F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.56, "Q5_K_M": 5.69,
    "Q5_0": 5.5, "Q4_K_M": 4.85, "Q4_0": 4.55, "Q3_K_M": 3.91, "Q2_K": 3.35,
}
# fmt: on
_SIZE_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


@dataclass(frozen=True)
class Node:
    """A node's free memory as reported by telemetry."""

    node_id: str
    name: str
    free_ram: int
    free_vram: int
    online: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        """Build from ``{node_id, name, free_ram, free_vram, online}``; missing memory is 0."""
        node_id = str(data["node_id"])
        return cls(
            node_id=node_id,
            name=str(data.get("name") or node_id),
            free_ram=max(0, int(data.get("free_ram") or 0)),
            free_vram=max(0, int(data.get("free_vram") or 0)),
            online=bool(data.get("online", True)),
        )


def parse_parameter_size(text: Any) -> int | None:
    """``"8.0B"`` → 8_000_000_000, ``"494.03M"`` → 494_030_000; None if not of that form."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMBT])\s*", str(text or ""), re.IGNORECASE)
    return round(float(match[1]) * _SIZE_SUFFIX[match[2].upper()]) if match else None


def _positive_int(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if ok else None


def estimate(
    show: Mapping[str, Any], size_bytes: int | None = None, context_length: int | None = None
) -> ModelEstimates:
    """Estimate a model's memory needs from ``/api/show`` (see the module docstring).

    Raises ValueError when neither the size on disk nor a parameter count is known, or when
    ``context_length`` is not positive.
    """
    if context_length is not None and context_length < 1:
        raise ValueError("context_length must be positive")
    details: Mapping[str, Any] = show.get("details") or {}
    info: Mapping[str, Any] = show.get("model_info") or {}
    arch = str(info.get("general.architecture") or details.get("family") or "")

    def arch_int(key: str) -> int | None:
        return _positive_int(info.get(f"{arch}.{key}"))

    assumptions: list[str] = []
    warnings: list[str] = []
    quant = str(details.get("quantization_level") or "").upper()
    bpw = BITS_PER_WEIGHT.get(quant)
    if bpw is None:
        bpw = UNKNOWN_BPW
        warnings.append(f"unknown quantization {quant or '(none)'!r}: assuming 16 bits per weight")
    params = _positive_int(info.get("general.parameter_count")) or parse_parameter_size(
        details.get("parameter_size")
    )
    source: Literal["disk", "parameters"] = "disk"
    if size_bytes:
        weights = int(size_bytes)
        assumptions.append("weights = size on disk")
    elif params:
        weights, source = math.ceil(params * bpw / 8), "parameters"
        assumptions.append(f"weights = {params} parameters * {bpw} bits / 8")
    else:
        raise ValueError("cannot estimate weights: no size on disk and no parameter count")

    layers = arch_int("block_count")
    if layers is None:
        warnings.append("layer count unknown: one indivisible block, KV cache not estimated")
    embedding_length = arch_int("embedding_length")
    tokens = info.get("tokenizer.ggml.tokens")
    vocab = arch_int("vocab_size") or (len(tokens) if isinstance(tokens, list) else None)
    if embedding_length and vocab:
        embedding = math.ceil(2 * embedding_length * vocab * bpw / 8)
    else:
        embedding = math.ceil(weights * EMBEDDING_FALLBACK_SHARE)
        assumptions.append("embedding/output share = 5 % of weights (vocabulary size unknown)")
    embedding = min(embedding, weights // 2)
    per_layer = math.ceil((weights - embedding) / (layers or 1))

    heads = arch_int("attention.head_count")
    kv_raw = info.get(f"{arch}.attention.head_count_kv")
    if isinstance(kv_raw, list):
        kv_heads = max((h for h in kv_raw if _positive_int(h)), default=None)
        assumptions.append("KV heads vary per layer: using the maximum")
    else:
        kv_heads = _positive_int(kv_raw) or heads
    key_len, value_len = arch_int("attention.key_length"), arch_int("attention.value_length")
    if key_len and value_len:
        head_bytes = key_len + value_len
    elif embedding_length and heads:
        head_bytes = 2 * (embedding_length // heads)
    else:
        head_bytes = 0
    model_context = arch_int("context_length")
    context = context_length or min(model_context or DEFAULT_CONTEXT, DEFAULT_CONTEXT)
    if model_context and context > model_context:
        warnings.append(f"context {context} exceeds the model's trained context {model_context}")
    if layers and kv_heads and head_bytes:
        kv_per_layer = context * kv_heads * head_bytes * 2
    else:
        kv_per_layer = 0
        if layers:
            warnings.append("attention shape unknown: KV cache not estimated")
    kv_total = kv_per_layer * (layers or 1)
    return ModelEstimates(
        weights_bytes=weights,
        weights_source=source,
        bits_per_weight=bpw,
        embedding_bytes=embedding,
        per_layer_bytes=per_layer,
        kv_cache_bytes=kv_total,
        kv_per_layer_bytes=kv_per_layer,
        context_length=context,
        layers=layers or 1,
        overhead_bytes=RUNTIME_OVERHEAD,
        total_bytes=weights + kv_total + RUNTIME_OVERHEAD,
        assumptions=assumptions,
        warnings=warnings,
    )


def usable_bytes(node: Node, reserve_bytes: int | None = None) -> int:
    """free_vram + free_ram - reserve (default max(1 GiB, 10 % of that sum)), at least 0."""
    free = node.free_vram + node.free_ram
    if reserve_bytes is None:
        reserve_bytes = max(RESERVE_FLOOR, int(free * RESERVE_FRACTION))
    return max(0, free - reserve_bytes)


def plan(
    show: Mapping[str, Any],
    nodes: Iterable[Node | Mapping[str, Any]],
    *,
    size_bytes: int | None = None,
    context_length: int | None = None,
    reserve_bytes: int | None = None,
) -> ModelPlacement:
    """Decide where ``show``'s model runs: one node if any fits, else a split, else infeasible.

    ``reserve_bytes`` overrides the per-node reserve for every node (see :func:`usable_bytes`).
    """
    est = estimate(show, size_bytes, context_length)
    reserve = "max(1 GiB, 10 %)" if reserve_bytes is None else f"{reserve_bytes} bytes"
    est.assumptions.append(f"usable = free_vram + free_ram - reserve of {reserve} per node")
    pool = [
        (node, usable_bytes(node, reserve_bytes))
        for node in (n if isinstance(n, Node) else Node.from_dict(n) for n in nodes)
        if node.online
    ]
    need = est.total_bytes
    fits = [
        ModelFit(
            node_id=node.node_id,
            name=node.name,
            usable_bytes=usable,
            headroom_bytes=usable - need,
            vram_only=node.free_vram >= need,
        )
        for node, usable in pool
        if usable >= need
    ]
    if fits:
        fits.sort(key=lambda f: (not f.vram_only, -f.usable_bytes, f.node_id))
        return _placement("single_node", est, fits_on=fits)
    shards = _split(est, pool)
    if shards:
        return _placement("split", est, shards=shards)
    shortfall = max(0, need - sum(usable for _, usable in pool))
    if pool and not shortfall:
        est.warnings.append("enough memory in total, but not divisible at layer granularity")
    return _placement("infeasible", est, shortfall_bytes=shortfall)


def _placement(
    verdict: Literal["single_node", "split", "infeasible"],
    estimates: ModelEstimates,
    *,
    fits_on: list[ModelFit] | None = None,
    shards: list[ModelShard] | None = None,
    shortfall_bytes: int = 0,
) -> ModelPlacement:
    return ModelPlacement(
        verdict=verdict,
        estimates=estimates,
        fits_on=fits_on or [],
        shards=shards or [],
        shortfall_bytes=shortfall_bytes,
    )


def _split(est: ModelEstimates, pool: list[tuple[Node, int]]) -> list[ModelShard]:
    """Memory-weighted contiguous split, or [] when the nodes cannot hold every layer."""
    n_layers, overhead = est.layers, est.overhead_bytes
    layer = max(1, est.per_layer_bytes + est.kv_per_layer_bytes)
    output = est.embedding_bytes // 2
    embedding = est.embedding_bytes - output

    def fixed(i: int, k: int) -> int:  # what position i of k carries besides its layers
        return overhead + embedding * (i == 0) + output * (i == k - 1)

    ranked = sorted(pool, key=lambda p: (-p[1], p[0].node_id))
    while True:  # drop nodes that cannot hold one layer where they stand; ranked shrinks
        chosen = ranked[:n_layers]
        k = len(chosen)
        caps = [max(0, (usable - fixed(i, k)) // layer) for i, (_, usable) in enumerate(chosen)]
        if all(caps):
            break
        ranked = [p for i, p in enumerate(ranked) if i >= k or caps[i] > 0]
    if not chosen or sum(caps) < n_layers:
        return []
    total = sum(usable for _, usable in chosen)
    ideal = [n_layers * usable / total for _, usable in chosen]
    counts = [max(1, min(cap, math.floor(s))) for cap, s in zip(caps, ideal, strict=True)]
    while sum(counts) > n_layers:  # max(1, .) overshot: trim the most over-served node
        i = max((j for j in range(k) if counts[j] > 1), key=lambda j: counts[j] - ideal[j])
        counts[i] -= 1
    while sum(counts) < n_layers:  # hand out the rest to the most under-served node with room
        i = max((j for j in range(k) if counts[j] < caps[j]), key=lambda j: ideal[j] - counts[j])
        counts[i] += 1
    bounds = list(accumulate(counts, initial=0))
    return [
        ModelShard(
            node_id=node.node_id,
            name=node.name,
            start=bounds[i],
            end=bounds[i + 1],
            layers=counts[i],
            bytes=counts[i] * layer + fixed(i, k),
            usable_bytes=usable,
            embedding=i == 0,
            output=i == k - 1,
        )
        for i, (node, usable) in enumerate(chosen)
    ]
