"""The SDK's flow calls: the exact requests each sends and how `follow_flow_run` reads the
event stream (httpx MockTransport), then against one real agent: create (YAML and JSON), a
refused definition with its lines, list, update, toggle, run a small flow and follow it,
rerun from a step, cancel, delete.

The agent is shared by the module: each test works on flows of its own name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from agent.client import AgentClient, ApiError
from agent.client.flows import FlowRunEvent, definition_errors, flow_id_of
from tests.harness import AgentProcess, agent_process, async_wait_until

pytestmark = pytest.mark.timeout(120)

PROBE = """name: SDK probe {tag}
inputs:
  word: {{type: string, default: hello}}
triggers:
  - manual: {{}}
steps:
  - id: pause
    uses: wait
    with: {{duration: 100ms}}
  - id: store
    uses: storage.put
    with:
      path: "flows-sdk/${{{{ run.id }}}}.txt"
      content: "${{{{ inputs.word }}}}"
outputs:
  path: ${{{{ steps.store.outputs.path }}}}
"""
BROKEN = """name: SDK broken
triggers:
  - manual: {}
steps:
  - id: first
    uses: no.such.action
  - id: second
    uses: wait
    with: {duration: 1s}
    on_error: explode
"""
LONG_WAIT = """name: SDK long wait
steps:
  - id: sleep
    uses: wait
    with: {duration: 1h}
"""


def probe(tag: str) -> str:
    return PROBE.format(tag=tag)


# --- the requests, and reading the event stream ------------------------------------------

NOW = 1_700_000_000.0
FLOW: dict[str, Any] = {
    "id": "demo", "name": "Demo", "description": "", "enabled": True, "mode": "single",
    "max": 10, "source": "name: Demo\n", "format": "yaml", "definition": {"name": "Demo"},
    "triggers": [], "author": "n1", "owner": "n1", "version": 1, "created_at": NOW,
    "updated_at": NOW, "last_run": None,
}  # fmt: skip


def run_body(state: str, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": "r1", "flow_id": "demo", "flow_version": 1, "node_id": "n1", "state": state,
        "trigger": {"kind": "manual", "at": NOW}, "inputs": {}, "outputs": {},
        "created_at": NOW, "steps": steps or [],
    }  # fmt: skip


def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {topic}\nid: {i}\ndata: {json.dumps(data)}\n\n".encode()
        for i, (topic, data) in enumerate(events, start=1)
    )


def step_event(step_id: str, state: str, run_id: str = "r1") -> tuple[str, dict[str, Any]]:
    data = {"flow_id": "demo", "run_id": run_id, "step_id": step_id, "state": state}
    return "flow.step.changed", {**data, "attempt": 1}


def run_event(state: str, run_id: str = "r1") -> tuple[str, dict[str, Any]]:
    data = {"flow_id": "demo", "run_id": run_id, "state": state, "trigger": "manual"}
    return "flow.run.changed", {**data, "node_id": "n1"}


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


def mocked(sent: list[httpx.Request], answer: Handler) -> AgentClient:
    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(request)

    return AgentClient("http://agent.test", "tok", transport=httpx.MockTransport(record))


def plain(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith(("/run", "/rerun", "/cancel")) or "/runs/" in path:
        status = 202 if path.endswith(("/run", "/rerun")) else 200
        return httpx.Response(status, json=run_body("queued"))
    return httpx.Response(201 if request.method == "POST" else 200, json=FLOW)


async def test_a_definition_goes_as_its_text_with_its_type(sent: list[httpx.Request]) -> None:
    async with mocked(sent, plain) as sdk:
        await sdk.create_flow("name: Demo\n")
        await sdk.create_flow('{"name": "Demo"}', "json")
        await sdk.update_flow("demo", "name: Demo\n")
        with pytest.raises(ValueError, match="yaml or json"):
            await sdk.create_flow("x", "toml")  # type: ignore[arg-type]
    assert [(r.method, r.url.path) for r in sent] == [
        ("POST", "/api/flows"), ("POST", "/api/flows"), ("PUT", "/api/flows/demo"),
    ]  # fmt: skip
    assert [r.headers["content-type"] for r in sent] == [
        "application/yaml", "application/json", "application/yaml",
    ]  # fmt: skip
    assert [r.content for r in sent] == [b"name: Demo\n", b'{"name": "Demo"}', b"name: Demo\n"]


async def test_each_call_sends_its_path_and_body(sent: list[httpx.Request]) -> None:
    async with mocked(sent, plain) as sdk:
        await sdk.toggle_flow("demo")
        await sdk.toggle_flow("demo", enabled=False)
        await sdk.run_flow("demo", {"n": 3})
        await sdk.rerun_flow("demo", "r1")
        await sdk.rerun_flow("demo", "r1", from_step="store")
        await sdk.cancel_flow_run("demo", "r1")
        await sdk.flow_run("a b/c", "r/1")
    assert [(r.method, r.url.raw_path.decode(), r.content) for r in sent] == [
        ("PUT", "/api/flows/demo/toggle", b"{}"),
        ("PUT", "/api/flows/demo/toggle", b'{"enabled":false}'),
        ("POST", "/api/flows/demo/run", b'{"inputs":{"n":3}}'),
        ("POST", "/api/flows/demo/runs/r1/rerun", b"{}"),
        ("POST", "/api/flows/demo/runs/r1/rerun", b'{"from_step":"store"}'),
        ("POST", "/api/flows/demo/runs/r1/cancel", b""),
        ("GET", "/api/flows/a%20b%2Fc/runs/r%2F1", b""),
    ]  # fmt: skip


def test_flow_ids_are_made_from_names_as_the_agent_makes_them() -> None:
    assert flow_id_of("Nightly backup") == "nightly-backup"
    assert flow_id_of("  Warn when a disk fills! ") == "warn-when-a-disk-fills"
    assert flow_id_of("Café — 2 étapes") == "cafe-2-etapes"
    assert flow_id_of("x" * 100) == "x" * 80
    assert flow_id_of("a" * 79 + " b") == "a" * 79
    assert flow_id_of("!!!") == "flow-" + hashlib.sha256(b"!!!").hexdigest()[:12]


def test_definition_errors_read_only_flow_invalid() -> None:
    details = {"errors": [{"line": 3, "column": 5, "path": "steps[0]", "message": "bad"}, "junk"]}
    (error,) = definition_errors(ApiError(400, "FLOW_INVALID", "invalid", details))
    assert (error.line, error.column, error.path, error.message) == (3, 5, "steps[0]", "bad")
    assert definition_errors(ApiError(400, "VALIDATION_ERROR", "no", details)) == []


def streaming(events: bytes, runs: list[dict[str, Any]]) -> Handler:
    """The event stream answers `events`; each GET of the run answers the next of `runs`."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/events":
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, headers=headers, content=events)
        return httpx.Response(200, json=runs.pop(0))

    return answer


async def follow(sdk: AgentClient) -> list[FlowRunEvent]:
    return [event async for event in sdk.follow_flow_run("demo", "r1")]


async def test_following_yields_the_run_s_events_then_the_finished_run(
    sent: list[httpx.Request],
) -> None:
    stream = sse(
        step_event("pause", "running"),
        step_event("pause", "running", run_id="other"),
        ("stream.replayed", {"last_id": 2}),
        step_event("pause", "succeeded"),
        run_event("succeeded", run_id="other"),
        run_event("succeeded"),
        step_event("late", "running"),
    )
    finished = run_body("succeeded", [])
    async with mocked(sent, streaming(stream, [run_body("running"), finished])) as sdk:
        events = await follow(sdk)
    assert [(e.kind, e.step_id, e.state) for e in events] == [
        ("step", "pause", "running"), ("step", "pause", "succeeded"),
        ("run", None, "succeeded"), ("done", None, "succeeded"),
    ]  # fmt: skip
    assert events[-1].run is not None
    assert events[-1].run.state == "succeeded"
    events_request = sent[0]
    assert events_request.url.params["topics"] == "flow.run,flow.step"
    assert events_request.headers["last-event-id"] == "0"


async def test_a_run_finished_before_following_is_done_at_once(
    sent: list[httpx.Request],
) -> None:
    stream = sse(run_event("failed"), ("stream.replayed", {"last_id": 1}), run_event("queued"))
    async with mocked(sent, streaming(stream, [run_body("failed")])) as sdk:
        events = await follow(sdk)
    assert [(e.kind, e.state) for e in events] == [("run", "failed"), ("done", "failed")]


async def test_a_stream_that_ends_before_the_run_raises(sent: list[httpx.Request]) -> None:
    stream = sse(("stream.replayed", {"last_id": 0}), step_event("pause", "running"))
    async with mocked(sent, streaming(stream, [run_body("running")])) as sdk:
        with pytest.raises(Exception, match="before the run finished"):
            await follow(sdk)


# --- against the agent ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("flows-sdk") / "home") as a:
        yield a


@pytest.fixture
async def client(agent: AgentProcess) -> AsyncIterator[AgentClient]:
    async with AgentClient(agent.url, agent.token) as sdk:
        yield sdk


async def refused(status: int, code: str, call_: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call_
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    return caught.value


async def test_create_list_update_toggle_and_delete(client: AgentClient) -> None:
    text = probe("crud")
    created = await client.create_flow(text)
    assert created.id == flow_id_of("SDK probe crud") == "sdk-probe-crud"
    assert (created.version, created.format, created.source, created.enabled) == (
        1, "yaml", text, True,
    )  # fmt: skip
    assert [t.kind for t in created.triggers] == ["manual"]
    assert created.definition["steps"][0]["id"] == "pause"
    await refused(409, "FLOW_EXISTS", client.create_flow(text))
    listed = await client.flows()
    assert created.id in [f.id for f in listed.flows]
    assert listed.count == len(listed.flows)
    assert (await client.flow(created.id)).source == text

    changed = text.replace("default: hello", "default: bonjour")
    updated = await client.update_flow(created.id, changed)
    assert (updated.version, updated.source) == (2, changed)
    assert (await client.toggle_flow(created.id, enabled=False)).enabled is False
    assert (await client.toggle_flow(created.id)).enabled is True
    assert (await client.toggle_flow(created.id, enabled=True)).enabled is True

    deleted = await client.delete_flow(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    await refused(404, "FLOW_NOT_FOUND", client.flow(created.id))
    await refused(404, "FLOW_NOT_FOUND", client.delete_flow(created.id))


async def test_a_json_definition_is_kept_as_json(client: AgentClient) -> None:
    text = json.dumps({"name": "SDK json", "steps": [{"id": "pause", "uses": "wait",
                                                      "with": {"duration": "10ms"}}]})  # fmt: skip
    flow = await client.create_flow(text, "json")
    assert (flow.id, flow.format, flow.source) == ("sdk-json", "json", text)
    await client.delete_flow(flow.id)


async def test_a_refused_definition_says_every_problem_where_it_is(client: AgentClient) -> None:
    before = await client.flows()
    error = await refused(400, "FLOW_INVALID", client.create_flow(BROKEN))
    problems = definition_errors(error)
    lines = {p.line for p in problems}
    assert {6, 10} <= lines, problems
    assert all(p.column for p in problems if p.line is not None)
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)
    assert (await client.flows()).flows == before.flows
    await refused(404, "FLOW_NOT_FOUND", client.update_flow("sdk-broken", BROKEN))


async def test_run_follow_rerun_and_delete_a_run(client: AgentClient) -> None:
    flow = await client.create_flow(probe("runs"))
    run = await client.run_flow(flow.id, {"word": "salut"})
    assert (run.flow_id, run.inputs) == (flow.id, {"word": "salut"})
    assert run.state in ("queued", "running")
    events = [event async for event in client.follow_flow_run(flow.id, run.id)]
    done = events[-1]
    assert done.kind == "done", events
    finished = done.run
    assert finished is not None
    assert finished.state == "succeeded", finished
    assert [(s.id, s.state, s.attempts) for s in finished.steps] == [
        ("pause", "succeeded", 1), ("store", "succeeded", 1),
    ]  # fmt: skip
    assert finished.outputs["path"] == f"flows-sdk/{run.id}.txt"
    steps_seen = {(e.step_id, e.state) for e in events if e.kind == "step"}
    assert {("pause", "succeeded"), ("store", "succeeded")} <= steps_seen

    listed = await client.flow_runs(flow.id)
    assert [r.id for r in listed.runs] == [run.id]
    assert listed.runs[0].steps == []
    await refused(409, "FLOW_RUN_FINISHED", client.cancel_flow_run(flow.id, run.id))
    await refused(400, "FLOW_STEP_NOT_FOUND", client.rerun_flow(flow.id, run.id, "nope"))

    again = await client.rerun_flow(flow.id, run.id, from_step="store")
    assert (again.rerun_of, again.inputs) == (run.id, {"word": "salut"})
    events = [event async for event in client.follow_flow_run(flow.id, again.id)]
    rerun = events[-1].run
    assert rerun is not None
    assert rerun.state == "succeeded"
    assert not [e for e in events if e.step_id == "pause" and e.state == "running"]
    assert rerun.outputs["path"] == f"flows-sdk/{again.id}.txt"
    assert [r.id for r in (await client.flow_runs(flow.id)).runs] == [again.id, run.id]

    gone = await client.delete_flow_run(flow.id, run.id)
    assert (gone.id, gone.deleted) == (run.id, True)
    await refused(404, "FLOW_RUN_NOT_FOUND", client.flow_run(flow.id, run.id))
    assert (await client.delete_flow(flow.id)).runs_deleted == 1


async def test_an_active_run_is_cancelled(client: AgentClient) -> None:
    flow = await client.create_flow(LONG_WAIT)
    run = await client.run_flow(flow.id)

    async def waiting() -> bool:
        return (await client.flow_run(flow.id, run.id)).state == "waiting"

    await async_wait_until(waiting, 20, "the run to wait")
    await refused(409, "FLOW_RUN_ACTIVE", client.delete_flow_run(flow.id, run.id))
    await client.cancel_flow_run(flow.id, run.id)
    events = [event async for event in client.follow_flow_run(flow.id, run.id)]
    assert events[-1].run is not None
    assert events[-1].run.state == "cancelled"
    await client.delete_flow(flow.id)


async def test_bad_inputs_and_unknown_ids_are_refused(client: AgentClient) -> None:
    flow = await client.create_flow(probe("inputs"))
    await refused(400, "FLOW_INPUT_INVALID", client.run_flow(flow.id, {"nope": 1}))
    assert (await client.flow_runs(flow.id)).runs == []
    await refused(404, "FLOW_NOT_FOUND", client.run_flow("no-such-flow"))
    await refused(404, "FLOW_RUN_NOT_FOUND", client.flow_run(flow.id, "no-such-run"))
    await client.delete_flow(flow.id)


async def test_the_schema_is_the_definition_s(client: AgentClient) -> None:
    schema = await client.flow_schema()
    assert {"name", "steps", "triggers", "inputs"} <= set(schema["properties"])
    assert "name" in schema["required"]
