"""The SDK's LLM calls without an agent (httpx MockTransport): requests, the chat and pull
event streams, their errors, and the human views and pull meter of `openfabric llm`."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pydantic import TypeAdapter

from agent.client import ChatSessionDetail, LlmStatus, ModelCatalog, ModelPlan, PullEvent
from cli.commands import llm_views as views
from cli.commands.llm import PullMeter
from tests.client.llm_answers import CATALOG, DONE, ESTIMATES, GIB, NODE, SESSION, STATUS

PLAN: TypeAdapter[ModelPlan] = TypeAdapter(ModelPlan)
FIT = {"node_id": NODE, "usable_bytes": 2, "headroom_bytes": 1, "vram_only": False}
SHARD = {
    "node_id": NODE,
    "name": "a",
    "start": 0,
    "end": 1,
    "layers": 1,
    "bytes": 1,
    "usable_bytes": 2,
    "embedding": True,
    "output": True,
}


def placement(verdict: str, **fields: Any) -> dict[str, Any]:
    empty = {"fits_on": [], "shards": [], "shortfall_bytes": 0}
    return {"verdict": verdict, "estimates": ESTIMATES, **empty, **fields}


# --- views and the pull meter --------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        (
            placement("single_node", fits_on=[{**FIT, "name": "a"}, {**FIT, "name": "b"}]),
            "fits: a, b",
        ),
        (placement("single_node", fits_on=[{**FIT, "name": ""}]), f"fits: {NODE}"),
        (placement("split", shards=[SHARD, SHARD, SHARD]), "split over 3 nodes"),
        (
            placement("infeasible", shortfall_bytes=int(12.3 * GIB)),
            "infeasible: needs 12.3 GiB more",
        ),
        (placement("infeasible"), "infeasible: cannot be divided by layers"),
        ({"verdict": "unknown", "reason": "no size"}, "unknown"),
        (None, "-"),
    ],
)
def test_plan_text(plan: dict[str, Any] | None, text: str) -> None:
    assert views.plan_text(None if plan is None else PLAN.validate_python(plan)) == text


def test_stats_line() -> None:
    assert views.stats_line(DONE, "laptop") == (
        "[laptop] 2 tokens, 40.0 tokens/s, first token after 12 ms"
    )
    assert views.stats_line({"node_id": NODE, "completion_tokens": None}) == (
        f"[{NODE[:12]}] - tokens"
    )


def test_a_down_status_says_why() -> None:
    status = {
        "node_id": NODE,
        "ollama_url": "http://127.0.0.1:11434",
        "up": False,
        "reason": "connection refused (is Ollama running?)",
        "version": None,
        "models": [],
        "loaded": [],
        "checked_at": None,
    }
    view = views.status_view(LlmStatus.model_validate(status))
    assert "down: connection refused (is Ollama running?)" in view
    assert "MODEL" not in view


def test_an_up_status_lists_models() -> None:
    view = views.status_view(LlmStatus.model_validate(STATUS))
    assert "State       up" in view
    row = next(line for line in view.splitlines() if line.startswith("qwen2.5:0.5b"))
    assert row.split() == ["qwen2.5:0.5b", "379.4", "MiB", "qwen2", "494.03M", "Q4_K_M", "32768"]
    assert "no model loaded" in view


def test_models_table() -> None:
    lines = views.models_table(ModelCatalog.model_validate(CATALOG)).splitlines()
    assert lines[0].split() == ["MODEL", "SIZE", "QUANT", "NODES", "PLAN"]
    assert lines[1].split() == [
        "qwen2.5:0.5b",
        "379.4",
        "MiB",
        "Q4_K_M",
        "laptop",
        "fits:",
        "laptop",
    ]
    assert lines[2].split() == ["odd:1b", "0", "B", "-", "laptop", "unknown"]


def test_session_view_marks_partial_answers() -> None:
    stats = {k: v for k, v in DONE.items() if k not in ("content", "session_id")}
    said = {"seq": 0, "role": "user", "content": "hi", "created_at": 1.0, "stats": None}
    cut = {"seq": 1, "role": "assistant", "content": "hal", "created_at": 2.0,
           "stats": {**stats, "partial": True}}  # fmt: skip
    session = ChatSessionDetail.model_validate({**SESSION, "messages": [said, cut]})
    assert views.session_view(session).endswith("user:\nhi\n\nassistant (partial):\nhal")


def test_pull_meter_draws_one_bar_per_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    meter = PullMeter(enabled=True)
    first, second = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    meter.update(PullEvent("progress", "pulling manifest"))
    meter.update(PullEvent("progress", "pulling 111111111111", first, None, 2048))
    meter.update(PullEvent("progress", "pulling 111111111111", first, 2048, 2048))
    meter.update(PullEvent("progress", "pulling 222222222222", second, 1024, 1024))
    meter.update(PullEvent("progress", "verifying sha256 digest"))
    meter.close()
    # Each bar is redrawn in place ('\r'); what stays on screen is its last drawing.
    lines = [line.split("\r")[-1].rstrip() for line in err.getvalue().split("\n")][:-1]
    assert lines[0] == "pulling manifest"
    assert lines[1].startswith("pulling 111111111111  2.0 KiB / 2.0 KiB  100%")
    assert lines[2].startswith("pulling 222222222222  1.0 KiB / 1.0 KiB  100%")
    assert lines[3] == "verifying sha256 digest"
    assert len(lines) == 4


def test_a_disabled_pull_meter_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    meter = PullMeter(enabled=False)
    meter.update(PullEvent("progress", "pulling manifest"))
    meter.update(PullEvent("progress", "pulling x", "sha256:" + "1" * 64, 1, 2))
    meter.close()
    assert err.getvalue() == ""
