"""The SDK's LLM calls without an agent (httpx MockTransport): requests, the chat and pull
event streams, their errors, and the human views and pull meter of `openfabric llm`."""

from __future__ import annotations

import io
from typing import Any

import pytest

from agent.client import PullEvent
from cli.commands import llm_views as views
from cli.commands.llm import PullMeter
from tests.cli.test_client_llm import DONE, GIB, NODE

# --- views and the pull meter --------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        ({"verdict": "single_node", "fits_on": [{"name": "a"}, {"name": "b"}]}, "fits: a, b"),
        ({"verdict": "split", "shards": [{}, {}, {}]}, "split over 3 nodes"),
        (
            {"verdict": "infeasible", "shortfall_bytes": int(12.3 * GIB)},
            "infeasible: needs 12.3 GiB more",
        ),
        (
            {"verdict": "infeasible", "shortfall_bytes": 0},
            "infeasible: cannot be divided by layers",
        ),
        ({"verdict": "unknown", "reason": "no size"}, "unknown"),
        (None, "-"),
    ],
)
def test_plan_text(plan: Any, text: str) -> None:
    assert views.plan_text(plan) == text


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
    view = views.status_view(status)  # type: ignore[arg-type]
    assert "down: connection refused (is Ollama running?)" in view
    assert "MODEL" not in view


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
