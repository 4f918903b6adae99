"""The human views of `openfabric llm ...`: Ollama status, the model catalog, chat stats and
chat sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.client import ChatSessionDetail, LlmStatus, ModelCatalog, ModelPlan, SessionList
from agent.llm.models import ModelPlanUnknown
from cli import output

PREVIEW = 60


def _or_dash(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def status_view(status: LlmStatus) -> str:
    state = "up" if status.up else f"down: {status.reason or 'unknown reason'}"
    head = output.pairs(
        [
            ("Node", status.node_id),
            ("Ollama URL", status.ollama_url),
            ("State", state),
            ("Version", _or_dash(status.version)),
            ("Checked", output.ago(status.checked_at)),
        ]
    )
    parts = [head]
    if status.models:
        rows = [
            [
                m.name,
                output.size(m.size),
                _or_dash(m.family),
                _or_dash(m.parameter_size),
                _or_dash(m.quantization),
                _or_dash(m.context_length),
            ]
            for m in status.models
        ]
        headers = ["MODEL", "SIZE", "FAMILY", "PARAMS", "QUANT", "CONTEXT"]
        parts.append(output.table(headers, rows))
    elif status.up:
        parts.append("no models (get one with 'openfabric llm pull MODEL')")
    if status.loaded:
        rows = [
            [m.name, output.size(m.size), output.size(m.size_vram), _or_dash(m.expires_at)]
            for m in status.loaded
        ]
        parts.append(output.table(["LOADED", "SIZE", "VRAM", "EXPIRES"], rows))
    elif status.up:
        parts.append("no model loaded")
    return "\n\n".join(parts)


def plan_text(plan: ModelPlan | None) -> str:
    """The planner's verdict in a few words: where the model fits, or how much is missing."""
    if plan is None:
        return "-"
    if isinstance(plan, ModelPlanUnknown):
        return "unknown"
    if plan.verdict == "single_node":
        names = [f.name or f.node_id for f in plan.fits_on]
        return f"fits: {', '.join(names)}" if names else "fits"
    if plan.verdict == "split":
        return f"split over {len(plan.shards)} nodes"
    if plan.shortfall_bytes > 0:
        return f"infeasible: needs {output.size(plan.shortfall_bytes)} more"
    return "infeasible: cannot be divided by layers"


def models_table(catalog: ModelCatalog) -> str:
    if not catalog.models:
        return "no models in the cluster (get one with 'openfabric llm pull MODEL')"
    rows = [
        [
            m.name,
            output.size(m.size),
            _or_dash(m.quantization),
            ", ".join(n.name for n in m.nodes) or "-",
            plan_text(m.plan),
        ]
        for m in catalog.models
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
    if not listing.sessions:
        return "no chat sessions"
    rows = [
        [
            s.session_id,
            _preview(s.title, 40),
            _or_dash(s.model),
            s.message_count,
            output.ago(s.updated_at),
        ]
        for s in listing.sessions
    ]
    return output.table(["SESSION", "TITLE", "MODEL", "MESSAGES", "UPDATED"], rows)


def session_view(session: ChatSessionDetail) -> str:
    head = output.pairs(
        [
            ("Session", session.session_id),
            ("Title", session.title),
            ("Model", _or_dash(session.model)),
            ("Messages", session.message_count),
            ("Created", output.ago(session.created_at)),
            ("Updated", output.ago(session.updated_at)),
        ]
    )
    turns = []
    for m in session.messages:
        mark = " (partial)" if m.stats is not None and m.stats.partial else ""
        turns.append(f"{m.role}{mark}:\n{m.content.rstrip()}")
    return "\n\n".join([head, *turns])
