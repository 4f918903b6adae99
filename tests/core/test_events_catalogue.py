"""The event catalogue: every topic is declared once with a payload model, nothing publishes
an undeclared topic, and docs/events.md is current."""

from __future__ import annotations

import ast
from pathlib import Path

from agent.core.events import Topic
from agent.docs import EVENTS_DOC, render_events
from agent.topics import all_topics

AGENT = Path(__file__).resolve().parents[2] / "agent"


def test_docs_events_md_is_generated_from_the_catalogue() -> None:
    assert EVENTS_DOC.read_text(encoding="utf-8") == render_events(), "run `python -m agent.docs`"


def test_every_topic_has_a_unique_name_and_a_payload_model() -> None:
    topics = all_topics()
    assert topics
    assert len({t.name for t in topics}) == len(topics)
    for topic in topics:
        assert isinstance(topic, Topic)
        assert topic.summary.strip(), topic.name
        assert topic.payload.model_json_schema()["type"] == "object"


def _publish_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "publish"
        and isinstance(node.func.value, ast.Attribute | ast.Name)
        and "bus" in ast.unparse(node.func.value)
    ]


def test_nobody_publishes_a_string_topic() -> None:
    offenders = []
    for path in AGENT.rglob("*.py"):
        for call in _publish_calls(ast.parse(path.read_text(encoding="utf-8"))):
            topic = call.args[0] if call.args else None
            if isinstance(topic, ast.Constant | ast.JoinedStr | ast.BinOp):
                offenders.append(f"{path.relative_to(AGENT)}:{call.lineno}")
    assert not offenders, f"publish a Topic, not a string: {offenders}"
