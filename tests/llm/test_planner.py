from __future__ import annotations

import json
import random
from itertools import pairwise
from typing import Any

import pytest

from agent.llm.models_plan import ModelPlacement
from agent.llm.planner import (
    GIB,
    MIB,
    Node,
    estimate,
    parse_parameter_size,
    plan,
    usable_bytes,
)

GB = 10**9
OVERHEAD = 500 * MIB
LLAMA_8B_SIZE = 4_920_753_328  # llama3.1:8b (Q4_K_M) on disk
LLAMA_70B_SIZE = 42_520_413_916  # llama3.1:70b (Q4_K_M) on disk


def llama_show(
    *,
    params: int | None,
    layers: int,
    embedding: int,
    heads: int,
    kv_heads: int,
    quant: str = "Q4_K_M",
    parameter_size: str = "",
    context: int = 131072,
    vocab: int | None = 128256,
) -> dict[str, Any]:
    """An `/api/show` answer shaped like Ollama's for a llama-architecture model."""
    info: dict[str, Any] = {
        "general.architecture": "llama",
        "llama.block_count": layers,
        "llama.context_length": context,
        "llama.embedding_length": embedding,
        "llama.attention.head_count": heads,
        "llama.attention.head_count_kv": kv_heads,
        "llama.feed_forward_length": embedding * 7 // 2,
        "tokenizer.ggml.tokens": None,
    }
    if params is not None:
        info["general.parameter_count"] = params
    if vocab is not None:
        info["llama.vocab_size"] = vocab
    details = {
        "format": "gguf",
        "family": "llama",
        "parameter_size": parameter_size,
        "quantization_level": quant,
    }
    return {"details": details, "model_info": info}


LLAMA_8B = llama_show(
    params=8_030_261_248, parameter_size="8.0B", layers=32, embedding=4096, heads=32, kv_heads=8
)
LLAMA_70B = llama_show(
    params=70_553_706_496, parameter_size="70.6B", layers=80, embedding=8192, heads=64, kv_heads=8
)


def node(node_id: str, ram: float = 0, vram: float = 0, online: bool = True) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "name": f"{node_id}-host",
        "free_ram": int(ram),
        "free_vram": int(vram),
        "online": online,
    }


def default_usable(free: int) -> int:
    return max(0, free - max(GIB, free // 10))


def check_split(result: ModelPlacement, nodes: list[dict[str, Any]]) -> None:
    """Invariants every split must satisfy."""
    est = result.estimates
    shards = result.shards
    assert result.verdict == "split"
    assert shards[0].start == 0
    assert shards[-1].end == est.layers
    for before, after in pairwise(shards):
        assert before.end == after.start
    assert sum(s.layers for s in shards) == est.layers
    online = {n["node_id"]: n for n in nodes if n["online"]}
    assert len({s.node_id for s in shards}) == len(shards)
    layer = est.per_layer_bytes + est.kv_per_layer_bytes
    for i, shard in enumerate(shards):
        assert shard.node_id in online
        assert shard.layers == shard.end - shard.start >= 1
        assert shard.embedding == (i == 0)
        assert shard.output == (i == len(shards) - 1)
        carried = est.embedding_bytes - est.embedding_bytes // 2 if shard.embedding else 0
        carried += est.embedding_bytes // 2 if shard.output else 0
        assert shard.bytes == shard.layers * layer + est.overhead_bytes + carried
        assert shard.bytes <= shard.usable_bytes
        raw = online[shard.node_id]
        assert shard.usable_bytes == default_usable(raw["free_ram"] + raw["free_vram"])


def test_8b_fits_on_16_and_8_gb_nodes_best_first() -> None:
    nodes = [node("small", ram=4 * GB), node("mid", ram=2 * GB, vram=6 * GB), node("big", 16 * GB)]
    result = plan(LLAMA_8B, nodes, size_bytes=LLAMA_8B_SIZE)
    assert result.verdict == "single_node"
    assert [f.node_id for f in result.fits_on] == ["big", "mid"]
    est = result.estimates
    assert est.weights_bytes == LLAMA_8B_SIZE
    assert est.weights_source == "disk"
    assert est.context_length == 8192  # min(131072, 8192)
    assert est.kv_cache_bytes == 2 * 32 * 8192 * 8 * 128 * 2 == GIB
    assert est.total_bytes == LLAMA_8B_SIZE + GIB + OVERHEAD
    big = result.fits_on[0]
    assert big.usable_bytes == 16 * GB - 16 * GB // 10
    assert big.headroom_bytes == big.usable_bytes - est.total_bytes
    assert result.shards == []
    assert result.shortfall_bytes == 0
    assert not est.warnings


def test_a_node_whose_vram_holds_the_model_ranks_first() -> None:
    nodes = [node("ram-box", ram=64 * GB), node("gpu-box", vram=24 * GB)]
    result = plan(LLAMA_8B, nodes, size_bytes=LLAMA_8B_SIZE)
    assert [(f.node_id, f.vram_only) for f in result.fits_on] == [
        ("gpu-box", True),
        ("ram-box", False),
    ]


def test_70b_on_small_nodes_is_infeasible_with_the_shortfall() -> None:
    nodes = [node("a", ram=4 * GB), node("b", ram=8 * GB), node("c", vram=16 * GB)]
    result = plan(LLAMA_70B, nodes, size_bytes=LLAMA_70B_SIZE)
    kv = 2 * 80 * 8192 * 8 * 128 * 2
    need = LLAMA_70B_SIZE + kv + OVERHEAD
    usable = (4 * GB - GIB) + (8 * GB - GIB) + (16 * GB - 16 * GB // 10)
    assert result.verdict == "infeasible"
    assert result.estimates.total_bytes == need
    assert result.shortfall_bytes == need - usable
    assert result.fits_on == [] == result.shards


def test_70b_splits_over_16_24_32_gb_nodes() -> None:
    nodes = [node("n16", ram=16 * GB), node("n24", vram=24 * GB), node("n32", 8 * GB, 24 * GB)]
    result = plan(LLAMA_70B, nodes, size_bytes=LLAMA_70B_SIZE)
    check_split(result, nodes)
    shards = result.shards
    assert [s.node_id for s in shards] == ["n32", "n24", "n16"]
    assert [(s.start, s.end) for s in shards] == [
        (0, shards[0].end),
        (shards[0].end, shards[1].end),
        (shards[1].end, 80),
    ]
    total = sum(s.usable_bytes for s in shards)
    for shard in shards:
        assert abs(shard.layers - 80 * shard.usable_bytes / total) <= 1
    assert shards[0].layers > shards[1].layers > shards[2].layers
    json.dumps(result.model_dump())  # JSON-ready
    assert result.model_dump()["shards"][0]["node_id"] == "n32"


def test_unknown_size_uses_parameter_count_and_quantization() -> None:
    qwen = {
        "details": {"family": "qwen2", "parameter_size": "494.03M", "quantization_level": "Q8_0"},
        "model_info": {
            "general.architecture": "qwen2",
            "general.parameter_count": 494_032_768,
            "qwen2.block_count": 24,
            "qwen2.context_length": 32768,
            "qwen2.embedding_length": 896,
            "qwen2.attention.head_count": 14,
            "qwen2.attention.head_count_kv": 2,
        },
    }
    est = estimate(qwen)
    assert est.weights_source == "parameters"
    assert est.weights_bytes == pytest.approx(494_032_768 * 8.5 / 8, abs=1)
    assert est.kv_cache_bytes == 2 * 24 * 8192 * 2 * 64 * 2
    # No vocabulary size: embeddings/output are 5 % of the weights.
    assert est.embedding_bytes == pytest.approx(est.weights_bytes * 0.05, abs=1)
    assert any("5 %" in a for a in est.assumptions)
    # Without general.parameter_count, details.parameter_size is parsed.
    del qwen["model_info"]["general.parameter_count"]
    assert estimate(qwen).weights_bytes == pytest.approx(494_030_000 * 8.5 / 8, abs=1)


def test_no_size_and_no_parameter_count_is_an_error() -> None:
    show = llama_show(params=None, layers=32, embedding=4096, heads=32, kv_heads=8)
    with pytest.raises(ValueError, match="cannot estimate weights"):
        estimate(show)


def test_unknown_quantization_assumes_16_bits_and_warns() -> None:
    show = llama_show(
        params=1_000_000_000, layers=16, embedding=2048, heads=16, kv_heads=4, quant="IQ9_XYZ"
    )
    est = estimate(show)
    assert est.bits_per_weight == 16
    assert est.weights_bytes == 2_000_000_000
    assert any("IQ9_XYZ" in w for w in est.warnings)
    assert not estimate(LLAMA_8B).warnings


def test_kv_cache_grows_linearly_with_context() -> None:
    base = estimate(LLAMA_8B, context_length=4096)
    double = estimate(LLAMA_8B, context_length=8192)
    quadruple = estimate(LLAMA_8B, context_length=16384)
    assert double.kv_cache_bytes == 2 * base.kv_cache_bytes
    assert quadruple.kv_cache_bytes == 4 * base.kv_cache_bytes
    assert quadruple.kv_per_layer_bytes * 32 == quadruple.kv_cache_bytes
    assert quadruple.total_bytes - base.total_bytes == 3 * base.kv_cache_bytes
    assert quadruple.context_length == 16384


def test_default_context_is_capped_by_the_model() -> None:
    short = llama_show(params=10**9, layers=16, embedding=2048, heads=16, kv_heads=4, context=2048)
    assert estimate(short).context_length == 2048
    assert estimate(LLAMA_8B).context_length == 8192
    assert any("exceeds" in w for w in estimate(short, context_length=4096).warnings)
    with pytest.raises(ValueError, match="context_length"):
        estimate(short, context_length=0)


def test_explicit_head_dimensions_and_per_layer_kv_heads() -> None:
    show = llama_show(params=10**9, layers=4, embedding=2048, heads=8, kv_heads=4)
    show["model_info"].update(
        {"llama.attention.key_length": 128, "llama.attention.value_length": 64}
    )
    assert estimate(show, context_length=100).kv_per_layer_bytes == 100 * 4 * (128 + 64) * 2
    show["model_info"]["llama.attention.head_count_kv"] = [0, 2, 4, 4]
    est = estimate(show, context_length=100)
    assert est.kv_per_layer_bytes == 100 * 4 * (128 + 64) * 2
    assert any("vary per layer" in a for a in est.assumptions)


def test_embedding_share_and_per_layer_weights() -> None:
    est = estimate(LLAMA_8B, size_bytes=LLAMA_8B_SIZE)
    assert est.embedding_bytes == pytest.approx(2 * 4096 * 128256 * 4.85 / 8, abs=1)
    assert est.per_layer_bytes * 32 >= est.weights_bytes - est.embedding_bytes
    assert est.per_layer_bytes * 32 - (est.weights_bytes - est.embedding_bytes) < 32


def test_offline_nodes_are_ignored() -> None:
    nodes = [node("off", ram=64 * GB, online=False), node("tiny", ram=4 * GB)]
    result = plan(LLAMA_8B, nodes, size_bytes=LLAMA_8B_SIZE)
    assert result.verdict == "infeasible"
    assert result.shortfall_bytes == result.estimates.total_bytes - (4 * GB - GIB)
    nodes = [node("off", ram=64 * GB, online=False), *[node(f"n{i}", 16 * GB) for i in range(4)]]
    split = plan(LLAMA_70B, nodes, size_bytes=LLAMA_70B_SIZE)
    check_split(split, nodes)
    assert "off" not in {s.node_id for s in split.shards}


def test_node_too_small_for_one_layer_is_left_out_of_a_split() -> None:
    nodes = [
        node("n32", ram=32 * GB),
        node("n24", ram=24 * GB),
        node("n16", ram=16 * GB),
        node("crumb", ram=GIB + 600 * MIB),  # 600 MiB usable: the overhead alone is 500 MiB
    ]
    result = plan(LLAMA_70B, nodes, size_bytes=LLAMA_70B_SIZE)
    check_split(result, nodes)
    assert [s.node_id for s in result.shards] == ["n32", "n24", "n16"]


def test_no_nodes_is_infeasible() -> None:
    result = plan(LLAMA_8B, [], size_bytes=LLAMA_8B_SIZE)
    assert result.verdict == "infeasible"
    assert result.shortfall_bytes == result.estimates.total_bytes
    assert result.model_dump()["verdict"] == "infeasible"


def test_enough_total_memory_that_cannot_be_divided_is_infeasible() -> None:
    # Each node clears one layer's worth only after the overhead, which every node pays again.
    show = llama_show(params=None, layers=2, embedding=512, heads=8, kv_heads=8, vocab=None)
    est = estimate(show, size_bytes=4 * GIB, context_length=16)
    usable = est.total_bytes // 2 + OVERHEAD // 4
    nodes = [node(f"n{i}", ram=usable + GIB) for i in range(2)]
    assert all(usable_bytes(Node.from_dict(n)) == usable for n in nodes)
    result = plan(show, nodes, size_bytes=4 * GIB, context_length=16)
    assert result.verdict == "infeasible"
    assert result.shortfall_bytes == 0
    assert any("granularity" in w for w in result.estimates.warnings)


def test_more_nodes_than_layers_uses_only_as_many_as_needed() -> None:
    show = llama_show(params=None, layers=2, embedding=512, heads=8, kv_heads=8, vocab=None)
    nodes = [node(f"n{i}", ram=4 * GIB) for i in range(5)]  # 3 GiB usable: one layer each
    result = plan(show, nodes, size_bytes=4 * GIB, context_length=16)
    check_split(result, nodes)
    assert [(s.node_id, s.start, s.end) for s in result.shards] == [("n0", 0, 1), ("n1", 1, 2)]


def test_fixed_reserve_and_node_objects() -> None:
    box = Node("box", "box", free_ram=8 * GB, free_vram=0)
    assert usable_bytes(box) == 8 * GB - GIB
    assert usable_bytes(box, reserve_bytes=0) == 8 * GB
    assert usable_bytes(Node("z", "z", free_ram=GIB // 2, free_vram=0)) == 0
    result = plan(LLAMA_8B, [box], size_bytes=LLAMA_8B_SIZE, reserve_bytes=GB)
    assert result.fits_on[0].usable_bytes == 7 * GB
    assert any("1000000000 bytes" in a for a in result.estimates.assumptions)


def test_parse_parameter_size() -> None:
    assert parse_parameter_size("8.0B") == 8_000_000_000
    assert parse_parameter_size("70.6B") == 70_600_000_000
    assert parse_parameter_size("494.03M") == 494_030_000
    assert parse_parameter_size("8x7B") is None
    assert parse_parameter_size(None) is None


def test_random_node_sets_respect_the_split_invariants() -> None:
    rng = random.Random(20240607)
    verdicts = set()
    for _ in range(400):
        layers = rng.randint(1, 100)
        show = llama_show(
            params=rng.randint(1, 80) * 10**9,
            layers=layers,
            embedding=rng.choice([2048, 4096, 8192]),
            heads=32,
            kv_heads=rng.choice([4, 8, 32]),
            quant=rng.choice(["Q4_K_M", "Q8_0", "F16", "Q4_0", "Q5_K_M", "Q6_K"]),
            vocab=rng.choice([None, 32000, 128256]),
        )
        size = rng.choice([None, rng.randint(GIB, 60 * GIB)])
        nodes = [
            node(f"n{i}", rng.randint(0, 48 * GB), rng.choice([0, rng.randint(0, 24 * GB)]))
            | {"online": rng.random() > 0.2}
            for i in range(rng.randint(0, 7))
        ]
        context = rng.choice([None, 2048, 32768])
        result = plan(show, nodes, size_bytes=size, context_length=context)
        est = result.estimates
        verdicts.add(result.verdict)
        usable = {
            n["node_id"]: default_usable(n["free_ram"] + n["free_vram"])
            for n in nodes
            if n["online"]
        }
        fitting = {nid for nid, u in usable.items() if u >= est.total_bytes}
        assert {f.node_id for f in result.fits_on} == fitting
        assert (result.verdict == "single_node") == bool(fitting)
        if result.verdict == "split":
            check_split(result, nodes)
        elif result.verdict == "infeasible":
            assert result.shortfall_bytes == max(0, est.total_bytes - sum(usable.values()))
            # Had every node room for its layers while carrying all of E, a split would exist.
            layer = est.per_layer_bytes + est.kv_per_layer_bytes
            spare = [
                (u - est.overhead_bytes - est.embedding_bytes) // layer for u in usable.values()
            ]
            assert sum(max(0, s) for s in spare) < est.layers
        json.dumps(result.model_dump())
    assert verdicts == {"single_node", "split", "infeasible"}
