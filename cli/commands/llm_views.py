"""The human views of `openfabric llm ...`: Ollama status, the model catalog, chat stats and
chat sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.client import ChatSessionDetail, ClusterModel, LlmStatus, ModelPlan, SessionList
from cli import output

PREVIEW = 60


def _or_dash(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def status_view(status: LlmStatus) -> str:
    state = "up" if status["up"] else f"down: {status.get('reason') or 'unknown reason'}"
    head = output.pairs(
        [
            ("Node", status["node_id"]),
            ("Ollama URL", status["ollama_url"]),
            ("State", state),
            ("Version", _or_dash(status.get("version"))),
            ("Checked", output.ago(status.get("checked_at"))),
        ]
    )
    parts = [head]
    models = status.get("models") or []
    if models:
        rows = [
            [
                m["name"],
                output.size(m.get("size")),
                _or_dash(m.get("family")),
                _or_dash(m.get("parameter_size")),
                _or_dash(m.get("quantization")),
                _or_dash(m.get("context_length")),
            ]
            for m in models
        ]
        headers = ["MODEL", "SIZE", "FAMILY", "PARAMS", "QUANT", "CONTEXT"]
        parts.append(output.table(headers, rows))
    elif status["up"]:
        parts.append("no models (get one with 'openfabric llm pull MODEL')")
    loaded = status.get("loaded") or []
    if loaded:
        rows = [
            [m["name"], output.size(m.get("size")), output.size(m.get("size_vram")),
             _or_dash(m.get("expires_at"))]
            for m in loaded
        ]  # fmt: skip
        parts.append(output.table(["LOADED", "SIZE", "VRAM", "EXPIRES"], rows))
    elif status["up"]:
        parts.append("no model loaded")
    return "\n\n".join(parts)


def plan_text(plan: ModelPlan | None) -> str:
    """The planner's verdict in a few words: where the model fits, or how much is missing."""
    if not plan:
        return "-"
    verdict = plan.get("verdict")
    if verdict == "single_node":
        names = [str(f.get("name") or f.get("node_id")) for f in plan.get("fits_on") or []]
        return f"fits: {', '.join(names)}" if names else "fits"
    if verdict == "split":
        return f"split over {len(plan.get('shards') or [])} nodes"
    if verdict == "infeasible":
        shortfall = plan.get("shortfall_bytes") or 0
        if shortfall > 0:
            return f"infeasible: needs {output.size(shortfall)} more"
        return "infeasible: cannot be divided by layers"
    return "unknown"


def models_table(catalog: Mapping[str, Any]) -> str:
    models: list[ClusterModel] = catalog["models"]
    if not models:
        return "no models in the cluster (get one with 'openfabric llm pull MODEL')"
    rows = [
        [
            m["name"],
            output.size(m.get("size")),
            _or_dash(m.get("quantization")),
            ", ".join(n["name"] for n in m.get("nodes") or []) or "-",
            plan_text(m.get("plan")),
        ]
        for m in models
    ]
    return output.table(["MODEL", "SIZE", "QUANT", "NODES", "PLAN"], rows)


def stats_line(stats: Mapping[str, Any], node_name: str | None = None) -> str:
    """`[node] 42 tokens, 18.3 tokens/s, first token after 120 ms`."""
    node = node_name or output.short_id(str(stats.get("node_id") or "?"))
    parts = [f"{_or_dash(stats.get('completion_tokens'))} tokens"]
    speed = stats.get("tokens_per_s")
    if isinstance(speed, int | float):
        parts.append(f"{speed:.1f} tokens/s")
    ttft = stats.get("time_to_first_token_ms")
    if isinstance(ttft, int | float):
        parts.append(f"first token after {ttft:.0f} ms")
    return f"[{node}] " + ", ".join(parts)


def _preview(text: str, width: int = PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def sessions_table(listing: SessionList) -> str:
    if not listing["sessions"]:
        return "no chat sessions"
    rows = [
        [
            s["session_id"],
            _preview(s["title"], 40),
            _or_dash(s.get("model")),
            s["message_count"],
            output.ago(s["updated_at"]),
        ]
        for s in listing["sessions"]
    ]
    return output.table(["SESSION", "TITLE", "MODEL", "MESSAGES", "UPDATED"], rows)


def session_view(session: ChatSessionDetail) -> str:
    head = output.pairs(
        [
            ("Session", session["session_id"]),
            ("Title", session["title"]),
            ("Model", _or_dash(session.get("model"))),
            ("Messages", session["message_count"]),
            ("Created", output.ago(session["created_at"])),
            ("Updated", output.ago(session["updated_at"])),
        ]
    )
    turns = []
    for m in session["messages"]:
        stats = m.get("stats") or {}
        mark = " (partial)" if stats.get("partial") else ""
        turns.append(f"{m['role']}{mark}:\n{m['content'].rstrip()}")
    return "\n\n".join([head, *turns])
