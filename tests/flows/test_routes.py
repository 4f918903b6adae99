"""The flows API in process (the real routes, service and engine on a real database): every
route answers its published model, and bad input answers the standard error and changes
nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from agent.core.errors import EXCEPTION_HANDLERS
from agent.flows.clock import FakeClock
from agent.flows.routes import build_routes
from agent.settings import Settings
from tests.flows.kit import Engine, FakeAction, engine
from tests.harness import async_wait_until, live_agent, make_settings
from tests.wire_check import checked

FLOW_YAML = """\
name: Greet
mode: parallel
inputs:
  who: {type: string, default: world}
steps:
  - id: say
    uses: task.run
    with:
      command: echo hello ${{ inputs.who }}
outputs:
  said: ${{ steps.say.outputs.stdout }}
"""
YAML = {"content-type": "application/yaml"}


@dataclass
class Api:
    http: httpx.AsyncClient
    e: Engine

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        answer = await self.http.request(method, path, **kw)
        assert answer.status_code == status, answer.text
        return answer.json()

    async def refused(self, method: str, path: str, status: int, code: str, **kw: Any) -> Any:
        answer = await self.http.request(method, path, **kw)
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["success"] is False
        assert body["error_code"] == code, body
        assert isinstance(body["error"], str)
        assert isinstance(body["details"], dict)
        return body


@asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[Api]:
    """The routes over an in-process engine (entered in the test's own task: the engine's
    task group must be left in the task that entered it)."""
    async with engine(tmp_path, FakeClock(), {"task.run": FakeAction()}) as e:
        app = Starlette(routes=build_routes(e.flows, e.runs), exception_handlers=EXCEPTION_HANDLERS)
        app.state.settings = Settings(home=tmp_path)
        transport = httpx.ASGITransport(app=checked(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://flows") as http:
            yield Api(http, e)


async def test_a_flow_through_every_route(tmp_path: Path) -> None:
    async with serving(tmp_path) as api:
        await _test_a_flow_through_every_route(api)


async def _test_a_flow_through_every_route(api: Api) -> None:
    created = await api.ok("POST", "/api/flows", 201, content=FLOW_YAML, headers=YAML)
    assert created["id"] == "greet"
    assert created["version"] == 1
    assert created["owner"] == api.e.identity.node_id
    assert created["definition"]["steps"][0]["with"] == {"command": "echo hello ${{ inputs.who }}"}
    listed = await api.ok("GET", "/api/flows")
    assert [f["id"] for f in listed["flows"]] == ["greet"]
    schema = await api.ok("GET", "/api/flows/schema")
    assert "steps" in schema["schema"]["properties"]
    as_json = json.dumps({"name": "Greet", "steps": [{"id": "say", "uses": "task.run",
                          "with": {"command": "echo json"}}]})  # fmt: skip
    updated = await api.ok("PUT", "/api/flows/greet", content=as_json,
                           headers={"content-type": "application/json"})  # fmt: skip
    assert updated["version"] == 2
    assert updated["format"] == "json"
    off = await api.ok("PUT", "/api/flows/greet/toggle")
    assert off["enabled"] is False
    assert off["version"] == 3
    on = await api.ok("PUT", "/api/flows/greet/toggle", json={"enabled": True})
    assert on["enabled"] is True
    await api.ok("PUT", "/api/flows/greet", content=FLOW_YAML, headers=YAML)
    started = await api.ok("POST", "/api/flows/greet/run", 202, json={"inputs": {"who": "you"}})
    run = await api.e.ended(started["id"])
    assert run.outputs == {"said": "echo hello you"}
    detail = await api.ok("GET", f"/api/flows/greet/runs/{run.id}")
    assert detail["steps"][0]["state"] == "succeeded"
    runs = await api.ok("GET", "/api/flows/greet/runs?limit=5")
    assert [r["id"] for r in runs["runs"]] == [run.id]
    assert runs["runs"][0]["steps"] == []
    got = await api.ok("GET", "/api/flows/greet")
    assert got["last_run"]["id"] == run.id
    await api.refused("POST", f"/api/flows/greet/runs/{run.id}/cancel", 409, "FLOW_RUN_FINISHED")
    again = await api.ok("POST", f"/api/flows/greet/runs/{run.id}/rerun", 202,
                         json={"from_step": "say"})  # fmt: skip
    assert again["rerun_of"] == run.id
    await api.e.ended(again["id"])
    assert (await api.ok("DELETE", f"/api/flows/greet/runs/{run.id}"))["deleted"] is True
    deleted = await api.ok("DELETE", "/api/flows/greet")
    assert deleted == {"id": "greet", "deleted": True, "runs_deleted": 1}
    await api.refused("GET", "/api/flows/greet", 404, "FLOW_NOT_FOUND")


async def test_bad_input_changes_nothing(tmp_path: Path) -> None:
    async with serving(tmp_path) as api:
        await _test_bad_input_changes_nothing(api)


async def _test_bad_input_changes_nothing(api: Api) -> None:
    await api.ok("POST", "/api/flows", 201, content=FLOW_YAML, headers=YAML)
    before = await api.ok("GET", "/api/flows")
    bad = await api.refused("POST", "/api/flows", 400, "FLOW_INVALID",
                            content="name: x\nsteps: [\n", headers=YAML)  # fmt: skip
    assert bad["details"]["errors"][0]["line"] is not None
    await api.refused(
        "POST",
        "/api/flows",
        400,
        "FLOW_INVALID",
        content="{",
        headers={"content-type": "application/json"},
    )
    await api.refused("POST", "/api/flows", 400, "FLOW_INVALID", content=b"\xff\xfe", headers=YAML)
    await api.refused("POST", "/api/flows", 400, "FLOW_INVALID", content="", headers=YAML)
    wrong = FLOW_YAML.replace("uses: task.run", "uses: rocket.launch")
    await api.refused("POST", "/api/flows", 400, "FLOW_INVALID", content=wrong, headers=YAML)
    await api.refused("POST", "/api/flows", 409, "FLOW_EXISTS", content=FLOW_YAML, headers=YAML)
    reserved = FLOW_YAML.replace("name: Greet", "name: Schema")
    await api.refused("POST", "/api/flows", 400, "FLOW_INVALID", content=reserved, headers=YAML)
    huge = FLOW_YAML + "#" * (300 * 1024)
    await api.refused("POST", "/api/flows", 413, "PAYLOAD_TOO_LARGE", content=huge, headers=YAML)
    await api.refused(
        "PUT", "/api/flows/greet", 413, "PAYLOAD_TOO_LARGE", content=huge, headers=YAML
    )
    await api.refused("POST", "/api/flows", 415, "UNSUPPORTED_MEDIA_TYPE", content=FLOW_YAML,
                      headers={"content-type": "application/xml"})  # fmt: skip
    await api.refused(
        "PUT", "/api/flows/greet", 400, "FLOW_INVALID", content="steps: 3", headers=YAML
    )
    await api.refused(
        "PUT", "/api/flows/greet/toggle", 400, "VALIDATION_ERROR", json={"enabled": "yes"}
    )
    await api.refused("PUT", "/api/flows/greet/toggle", 400, "INVALID_JSON", content="{")
    await api.refused(
        "POST", "/api/flows/greet/run", 400, "FLOW_INPUT_INVALID", json={"inputs": {"who": 3}}
    )
    await api.refused(
        "POST", "/api/flows/greet/run", 400, "FLOW_INPUT_INVALID", json={"inputs": {"nobody": 1}}
    )
    await api.refused("POST", "/api/flows/greet/run", 400, "VALIDATION_ERROR", json={"inputs": []})
    await api.refused("GET", "/api/flows/greet/runs?limit=0", 400, "VALIDATION_ERROR")
    await api.refused("GET", "/api/flows/greet/runs?limit=x", 400, "VALIDATION_ERROR")
    await api.refused("GET", "/api/flows/greet/runs?other=1", 400, "VALIDATION_ERROR")
    for method, path in [
        ("GET", "/api/flows/nope"),
        ("PUT", "/api/flows/nope/toggle"),
        ("DELETE", "/api/flows/nope"),
        ("POST", "/api/flows/nope/run"),
        ("GET", "/api/flows/nope/runs"),
        ("GET", "/api/flows/NOT..AN..ID"),
    ]:
        await api.refused(method, path, 404, "FLOW_NOT_FOUND")
    await api.refused(
        "PUT", "/api/flows/nope", 404, "FLOW_NOT_FOUND", content=FLOW_YAML, headers=YAML
    )
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path in [
        ("GET", f"/api/flows/greet/runs/{missing}"),
        ("DELETE", f"/api/flows/greet/runs/{missing}"),
        ("POST", f"/api/flows/greet/runs/{missing}/cancel"),
        ("POST", f"/api/flows/greet/runs/{missing}/rerun"),
        ("GET", "/api/flows/greet/runs/not-a-run"),
    ]:
        await api.refused(method, path, 404, "FLOW_RUN_NOT_FOUND")
    run = await api.ok("POST", "/api/flows/greet/run", 202)
    await api.e.ended(run["id"])
    rerun = f"/api/flows/greet/runs/{run['id']}/rerun"
    await api.refused("POST", rerun, 400, "FLOW_STEP_NOT_FOUND", json={"from_step": "nowhere"})
    await api.refused("POST", rerun, 400, "VALIDATION_ERROR", json={"from_step": "Not A Step"})
    after = await api.ok("GET", "/api/flows")
    for flow in (before["flows"][0], after["flows"][0]):
        flow.pop("last_run", None)
    assert after == before
    assert len((await api.ok("GET", "/api/flows/greet/runs"))["runs"]) == 1


async def test_an_active_run_cannot_be_deleted_or_rerun(tmp_path: Path) -> None:
    async with serving(tmp_path) as api:
        await _test_an_active_run_cannot_be_deleted_or_rerun(api)


async def _test_an_active_run_cannot_be_deleted_or_rerun(api: Api) -> None:
    waits = "name: Waits\nsteps:\n  - id: pause\n    uses: wait\n    with: {duration: 1h}\n"
    await api.ok("POST", "/api/flows", 201, content=waits, headers=YAML)
    run = await api.ok("POST", "/api/flows/waits/run", 202)
    await api.e.step_state(run["id"], "pause", "waiting")
    await api.refused("DELETE", f"/api/flows/waits/runs/{run['id']}", 409, "FLOW_RUN_ACTIVE")
    await api.refused("POST", f"/api/flows/waits/runs/{run['id']}/rerun", 409, "FLOW_RUN_ACTIVE")
    skipped = await api.ok("POST", "/api/flows/waits/run", 202)
    assert skipped["state"] == "skipped"
    assert skipped["skipped_count"] == 1
    cancelled = await api.ok("POST", f"/api/flows/waits/runs/{run['id']}/cancel")
    assert cancelled["state"] == "cancelled"
    assert cancelled["steps"][0]["state"] == "cancelled"


LIVE_FLOW = """\
name: Live
steps:
  - id: pause
    uses: wait
    with: {duration: 50ms}
  - id: list
    uses: storage.ls
outputs:
  count: ${{ steps.list.outputs.count }}
"""


async def test_the_subsystem_in_a_live_agent(tmp_path: Path) -> None:
    async with live_agent(make_settings(tmp_path / "home")) as agent, agent.client() as http:
        created = await http.post("/api/flows", content=LIVE_FLOW, headers=YAML)
        assert created.status_code == 201, created.text
        assert created.json()["author"] == created.json()["owner"]
        started = await http.post("/api/flows/live/run", json={})
        assert started.status_code == 202, started.text
        path = f"/api/flows/live/runs/{started.json()['id']}"

        async def ended() -> dict[str, Any] | None:
            run: dict[str, Any] = (await http.get(path)).json()
            return run if run["state"] in ("succeeded", "failed") else None

        run = await async_wait_until(ended, 20, "the run to end")
        assert run["state"] == "succeeded", run
        assert run["outputs"] == {"count": 0}
        assert [s["state"] for s in run["steps"]] == ["succeeded", "succeeded"]
        deleted = await http.delete("/api/flows/live")
        assert deleted.json() == {"id": "live", "deleted": True, "runs_deleted": 1}
