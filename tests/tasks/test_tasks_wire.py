"""The task routes' answers and events against what the agent publishes: every route declares
its answer model, real answers validate against `/api/openapi.json` and read back as the same
JSON, and every task.* and scheduler.breaker event carries exactly its topic's model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from starlette.routing import Route

from agent.app import create_app
from agent.tasks import events
from agent.tasks.breaker import CircuitBreaker
from agent.tasks.models import (
    RUNNING,
    STATES,
    BreakerSnapshot,
    SchedulerStats,
    TaskDetail,
    TaskPage,
    TaskView,
)
from agent.tasks.store import Task
from tests.harness import LiveAgent, make_settings
from tests.ops.published import assert_matches
from tests.tasks.conftest import submit, wait_task

STREAM_ONLY = {("GET", "/api/tasks/{task_id}/logs")}


def task_routes(home: Path) -> list[tuple[str, Route]]:
    app = create_app(make_settings(home))
    found = []
    for route in app.routes:
        doc = getattr(route, "doc", None)
        if isinstance(route, Route) and doc is not None and doc.tag == "tasks":
            found += [(method, route) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def test_every_task_route_declares_its_answer(tmp_path: Path) -> None:
    routes = {
        (method, route.path): route.doc.answer  # type: ignore[attr-defined]
        for method, route in task_routes(tmp_path)
    }
    assert routes == {
        ("POST", "/api/tasks"): TaskView,
        ("GET", "/api/tasks"): TaskPage,
        ("GET", "/api/tasks/{task_id}"): TaskDetail,
        ("DELETE", "/api/tasks/{task_id}"): TaskView,
        ("GET", "/api/tasks/{task_id}/logs"): None,
        ("GET", "/api/scheduler/stats"): SchedulerStats,
    }


class Published:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.checked: set[tuple[str, str]] = set()

    def check(
        self, method: str, path: str, response: httpx.Response, model: type[BaseModel]
    ) -> Any:
        """The answer, once it matched the published schema and read back as `model`."""
        assert response.is_success, response.text
        body = response.json()
        assert_matches(self.spec, method, path, body)
        assert model.model_validate(body).model_dump(mode="json") == body
        self.checked.add((method, path))
        return body


async def test_real_answers_and_events_match_what_is_published(
    live: LiveAgent, tmp_path: Path
) -> None:
    app: Any = live.server.config.app
    tasks, bus = app.state.subsystems["tasks"], app.state.bus
    async with live.client() as client:
        wire = Published((await client.get("/api/openapi.json")).json())
        schemas = wire.spec["components"]["schemas"]
        assert {"TaskView", "TaskDetail", "TaskPage", "SchedulerStats"} <= set(schemas)

        made = await client.post("/api/tasks", json={"command": "echo hi", "labels": {"a": "b"}})
        task = wire.check("POST", "/api/tasks", made, TaskView)
        assert made.status_code == 201
        failing = await submit(client, command="echo oops >&2; exit 3", env={"K": "v"})
        slow = await submit(client, command="sleep 30", timeout_s=0.2)
        for one in (task, failing, slow):
            await wait_task(client, one["task_id"])
        running = await submit(client, command="sleep 30")
        await wait_task(client, running["task_id"], {RUNNING})

        one = await client.get(f"/api/tasks/{failing['task_id']}")
        detail = wire.check("GET", "/api/tasks/{task_id}", one, TaskDetail)
        assert (detail["state"], detail["env"], detail["stderr"]) == ("failed", ["K"], "oops\n")
        full = await client.get(f"/api/tasks/{task['task_id']}", params={"full": "true"})
        assert wire.check("GET", "/api/tasks/{task_id}", full, TaskDetail)["stdout"] == "hi\n"
        page = wire.check("GET", "/api/tasks", await client.get("/api/tasks"), TaskPage)
        assert page["count"] == page["total"] == 4
        cancelled = await client.delete(f"/api/tasks/{running['task_id']}")
        wire.check("DELETE", "/api/tasks/{task_id}", cancelled, TaskView)
        await wait_task(client, running["task_id"])

        # A breaker opens and closes (for a node that is no member: placement is unaffected).
        breaker = tasks.breakers.get("n" * 24)
        for _ in range(breaker.policy.failure_threshold):
            breaker.record_failure()
        breaker.record_success()
        await lose_a_task(tasks)

        stats = await client.get("/api/scheduler/stats")
        body = wire.check("GET", "/api/scheduler/stats", stats, SchedulerStats)
        assert body["totals"] == {
            "succeeded": 1,
            "failed": 1,
            "timed_out": 1,
            "cancelled": 1,
        }
        assert body["nodes"][0]["breaker"]["state"] == "closed"
        assert wire.checked == routes_of(tmp_path) - STREAM_ONLY
        seen = bus.recent(["task", "scheduler"], limit=1000)

    by_name = {t.name: t for t in events.TOPICS}
    assert {e.topic for e in seen} == set(by_name)
    for event in seen:
        payload = by_name[event.topic].payload.model_validate(event.data)
        assert payload.model_dump(mode="json") == event.data, event.topic
    changes = [(e.data["from"], e.data["to"]) for e in seen if e.topic == "scheduler.breaker"]
    assert changes == [("closed", "open"), ("open", "closed")]


def routes_of(tmp_path: Path) -> set[tuple[str, str]]:
    return {(method, route.path) for method, route in task_routes(tmp_path / "other")}


async def lose_a_task(tasks: Any) -> None:
    """A task stored as running when the agent (re)starts is lost: what a restart does."""
    stored = Task(
        task_id="tlost",
        command="sleep 30",
        env={},
        cwd=None,
        timeout_s=None,
        retries=0,
        labels={},
        preferred_node=None,
        wait_for_node=True,
        submitted_at=1.0,
        state=RUNNING,
        attempts=1,
    )
    await tasks.store.save(stored)
    await tasks.service.recover()
    lost = await tasks.store.get("tlost")
    assert (lost.state, lost.error) == ("lost", "the agent stopped while the task was running")


def test_one_topic_per_state_and_the_breaker_topic() -> None:
    assert set(events.TASK_TOPICS) == set(STATES)
    for state, topic in events.TASK_TOPICS.items():
        assert (topic.name, topic.payload) == (f"task.{state}", TaskView)
    assert (*events.TASK_TOPICS.values(), events.SCHEDULER_BREAKER) == events.TOPICS
    for topic in events.TOPICS:
        assert topic.summary
    schema = events.BreakerChange.model_json_schema(mode="serialization")
    assert set(schema["properties"]) == {"node_id", "from", "to", "breaker"}


def test_a_breaker_snapshot_has_exactly_the_published_fields() -> None:
    # The model ignores unknown fields when reading: a field added to the snapshot alone
    # would silently never reach the API.
    snapshot = CircuitBreaker("n1").snapshot()
    assert set(snapshot) == set(BreakerSnapshot.model_fields)
    assert BreakerSnapshot(**snapshot).model_dump() == snapshot


def test_no_tasks_module_publishes_a_string_topic() -> None:
    for source in Path(events.__file__).parent.glob("*.py"):
        text = source.read_text()
        assert 'publish("' not in text, source.name
        assert "publish(f" not in text, source.name
