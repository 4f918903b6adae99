"""The example flows in flows/: each parses and passes the checks, and each does what its
comments promise on a real agent (real storage, tasks and Pulse; the Ollama double for the
LLM): the backup lands in shared storage as a tar.gz, a new document gets its summary, a disk
warning reaches a webhook, and a member that comes back gets its command started again."""

from __future__ import annotations

import asyncio
import io
import json
import re
import tarfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml

from agent.client import AgentClient
from agent.flows.models import FINISHED_RUN_STATES, FlowRun
from agent.flows.parse import parse_definition
from agent.flows.subsystem import FlowsSubsystem
from tests.fakes.ollama import FakeOllama, serve_fake_ollama
from tests.harness import (
    LiveAgent,
    agent_process,
    async_wait_until,
    call,
    form_cluster,
    live_agent,
    make_settings,
    online_count,
    wait_until,
)
from tests.pulse_rules import rules_file

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLES = sorted(p for p in FLOWS.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
MODEL = "qwen2.5:0.5b"
ANSWER = "- It is about tomatoes.\nIt tells when to water them."
WITHIN = 30.0
# Every disk counts as nearly full (never critical); `for` leaves the fixture time to save
# the warning flow before Pulse raises the cards.
DISK_FULL = {
    "id": "disk_full",
    "warning": {"raise": 0.01, "clear": 0},
    "critical": {"raise": 101, "clear": 100},
    "for": 10,
}
live = pytest.mark.asyncio(loop_scope="module")


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FLOWS / name).read_text())
    return loaded


def with_defaults(definition: dict[str, Any], **defaults: str) -> str:
    """The definition as JSON with these inputs' defaults (what an event-triggered run gets)."""
    for name, value in defaults.items():
        definition["inputs"][name]["default"] = value
    return json.dumps(definition)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_parses_and_passes_the_checks(path: Path) -> None:
    text = path.read_text()
    parsed = parse_definition(text, "json" if path.suffix == ".json" else "yaml")
    assert parsed.definition.description, "an example says what it is for"
    assert text.startswith("#"), "an example opens with a comment explaining it"


@dataclass
class Webhook:
    """A local HTTP endpoint that records each request and answers 200."""

    received: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    url: str = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            pairs = (line.partition(":") for line in head[1:] if line)
            headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append((head[0], headers, body.decode()))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
        finally:
            writer.close()


@dataclass
class Node:
    agent: LiveAgent
    client: AgentClient
    webhook: Webhook
    flows: FlowsSubsystem  # to wait until its storage triggers took their baseline


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    root = tmp_path_factory.mktemp("examples")
    webhook = Webhook()
    server = await asyncio.start_server(webhook.serve, "127.0.0.1", 0)
    webhook.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/phone"
    rules = rules_file(root, DISK_FULL)
    fake = FakeOllama(models=[MODEL], reply_text=ANSWER)
    async with serve_fake_ollama(fake) as ollama:
        settings = make_settings(
            root / "home", ollama_url=ollama.url, pulse_rules=str(rules), pulse_interval=0.2
        )
        async with live_agent(settings) as agent, AgentClient(agent.url, agent.token) as client:
            warn = example("warn-disk-full.yaml")
            await client.create_flow(with_defaults(warn, webhook=webhook.url), "json")
            for name in ("summarise-new-documents.yaml", "nightly-backup.yaml"):
                await client.create_flow((FLOWS / name).read_text())
            app: Any = agent.server.config.app
            flows: FlowsSubsystem = app.state.subsystems["flows"]

            async def models_seen() -> bool:
                return bool((await client.llm_status()).models)

            await async_wait_until(models_seen, 15, "the agent to see the double's models")
            yield Node(agent, client, webhook, flows)
    server.close()
    await server.wait_closed()


async def ended(node: Node, flow_id: str, run_id: str) -> FlowRun:
    async def done() -> FlowRun | None:
        run = await node.client.flow_run(flow_id, run_id)
        return run if run.state in FINISHED_RUN_STATES else None

    found: FlowRun = await async_wait_until(done, WITHIN, f"run {run_id} of {flow_id} to end")
    return found


async def download(node: Node, path: str) -> bytes:
    return b"".join([block async for block in node.client.storage_download(path)])


async def card(node: Node, card_id: str) -> dict[str, Any] | None:
    listed = (await node.client.pulse_insights()).insights
    return next((c.model_dump() for c in listed if c.id == card_id), None)


def left_behind(run_id: str) -> bool:
    """Whether the run's temporary archive is still there."""
    return Path(f"/tmp/openfabric-backup-{run_id}.tar.gz").exists()


def steps_of(run: FlowRun) -> dict[str, str]:
    return {s.id: s.state for s in run.steps}


@live
async def test_nightly_backup_stores_the_folder_as_a_tar_gz(node: Node, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "2024").mkdir(parents=True)
    files = {"a.txt": b"first file\n", "2024/b.bin": bytes(range(256)) * 40}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    started = await node.client.run_flow(
        "nightly-backup", {"folder": str(folder), "name": "photos"}
    )
    run = await ended(node, "nightly-backup", started.id)
    assert run.state == "succeeded", run.error
    assert steps_of(run) == {"pack": "succeeded", "store": "succeeded", "done": "succeeded",
                             "warn": "skipped", "clean": "succeeded"}  # fmt: skip
    day = time.strftime("%Y-%m-%d", time.localtime(run.started_at))
    assert run.outputs == {"archive": f"backups/photos/{day}.tar.gz"}
    with tarfile.open(fileobj=io.BytesIO(await download(node, run.outputs["archive"]))) as tar:
        packed = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        assert set(packed) == set(files)
        for name, content in files.items():
            extracted = tar.extractfile(packed[name])
            assert extracted is not None
            assert extracted.read() == content
    assert not left_behind(run.id)
    shown = await card(node, "notice-card:flow:nightly-backup:done")
    assert shown is not None
    assert (shown["title"], shown["severity"]) == ("Backup of photos stored", "info")
    assert shown["what"].startswith(f"backups/photos/{day}.tar.gz (")


@live
async def test_nightly_backup_of_a_missing_folder_raises_a_warning(
    node: Node, tmp_path: Path
) -> None:
    missing = tmp_path / "not-there"
    started = await node.client.run_flow("nightly-backup", {"folder": str(missing), "name": "x"})
    run = await ended(node, "nightly-backup", started.id)
    assert run.state == "succeeded", run.error  # the failure was handled by `goto warn`
    states = steps_of(run)
    assert (states["pack"], states["warn"], states["clean"]) == ("failed", "succeeded", "succeeded")
    assert "store" not in states  # jumped over
    assert "done" not in states
    assert run.outputs == {"archive": ""}
    assert not left_behind(run.id)
    shown = await card(node, "notice-card:flow:nightly-backup:warn")
    assert shown is not None
    assert (shown["title"], shown["severity"]) == ("Backup of x failed", "warning")
    assert "exited with 2" in shown["what"]


@live
async def test_a_new_document_gets_its_summary(node: Node) -> None:
    flow_id = "summarise-new-documents"

    def baselines_taken() -> bool:
        watches = node.flows.triggers.shared_files.watches
        mine = [w for (fid, _), w in watches.items() if fid == flow_id]
        return len(mine) == 2 and all(w.seen is not None for w in mine)

    await async_wait_until(baselines_taken, 15, "the storage triggers to list storage once")
    text = b"# Tomatoes\n\nWater the tomatoes every morning, before the sun is high.\n"
    await node.client.storage_upload("docs/a.md", text)

    async def finished_run() -> FlowRun | None:
        for run in (await node.client.flow_runs(flow_id)).runs:
            if run.state in FINISHED_RUN_STATES:
                return await node.client.flow_run(flow_id, run.id)
        return None

    run = await async_wait_until(finished_run, WITHIN, "the file trigger's run to end")
    assert run.state == "succeeded", run.error
    assert run.trigger.kind == "file"
    assert run.trigger.payload["path"] == "docs/a.md"
    assert run.trigger.payload["change"] == "created"
    assert run.outputs == {"summary": "summaries/docs/a.md.summary.md"}
    summary = (await download(node, "summaries/docs/a.md.summary.md")).decode()
    assert summary == f"# Summary of docs/a.md\n\n{ANSWER}\n"
    # The summary itself is not under docs/: it does not start another run.
    assert (await node.client.flow_runs(flow_id)).count == 1


@live
async def test_a_disk_warning_reaches_the_webhook(node: Node) -> None:
    await async_wait_until(lambda: node.webhook.received, WITHIN, "the webhook to be called")
    cards = [c for c in (await node.client.pulse_insights()).insights if c.rule == "disk_full"]
    assert cards, "Pulse raised no disk_full card"
    request, headers, body = node.webhook.received[0]
    assert request == "POST /phone HTTP/1.1"
    assert headers["title"] == "Disk nearly full"
    assert headers["priority"] == "high"  # a warning; "urgent" is for critical cards
    assert body in {f"{c.what} {c.action}" for c in cards}
    runs = (await node.client.flow_runs("warn-when-a-disk-fills")).runs
    assert runs
    assert runs[0].trigger.kind == "event"
    run = await ended(node, "warn-when-a-disk-fills", runs[-1].id)
    assert run.state == "succeeded", run.error
    assert run.outputs == {"delivered": True}
    assert steps_of(run) == {"push": "succeeded", "clean": "skipped"}


# -- a member that comes back: a real pair of agents --

FAST_LIVENESS = ("--heartbeat-interval", "0.2", "--suspect-after", "1", "--offline-after", "2")


def runs_of(agent: Any, flow_id: str) -> list[dict[str, Any]]:
    response = call(agent, "GET", f"/api/flows/{flow_id}/runs")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["runs"]
    return listed


@pytest.mark.slow
def test_a_returning_member_gets_its_command_started_again(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    args = ("--node-name", "alpha", *FAST_LIVENESS)
    with agent_process(tmp_path / "alpha", *args) as alpha:
        with agent_process(tmp_path / "beta", "--node-name", "beta", *FAST_LIVENESS) as beta:
            form_cluster([alpha, beta])
            beta_id = beta.info["node_id"]
            definition = example("restart-task-on-node-return.yaml")
            definition["runs_on"] = "alpha"  # the member that stays
            command = f'touch "{marks}/back-$(date +%s%N)"'
            source = with_defaults(definition, node="beta", command=command)
            json_type = {**alpha.headers(), "content-type": "application/json"}
            saved = httpx.post(alpha.url + "/api/flows", content=source, headers=json_type)
            assert saved.status_code == 201, saved.text
            flow_id = saved.json()["id"]
            assert saved.json()["owner"] == alpha.info["node_id"]
        wait_until(lambda: online_count(alpha) == 1, 20, "alpha to see beta offline")
        assert runs_of(alpha, flow_id) == []
        assert list(marks.iterdir()) == []
        with agent_process(tmp_path / "beta", "--node-name", "beta", *FAST_LIVENESS):
            wait_until(lambda: list(marks.iterdir()), WITHIN, "the command to run on beta")
            run_id = wait_until(lambda: runs_of(alpha, flow_id), 10, "the run")[0]["id"]
            done = wait_until(
                lambda: (
                    (r := call(alpha, "GET", f"/api/flows/{flow_id}/runs/{run_id}").json())
                    and r["state"] in FINISHED_RUN_STATES
                    and r
                ),
                WITHIN,
                "the run to end",
            )
    assert done["state"] == "succeeded", done["error"]
    assert done["trigger"]["kind"] == "event"
    assert done["trigger"]["payload"]["topic"] == "node.online"
    assert done["trigger"]["payload"]["data"]["node_id"] == beta_id
    restart = next(s for s in done["steps"] if s["id"] == "restart")
    assert restart["outputs"]["node_id"] == beta_id
    assert restart["outputs"]["exit_code"] == 0
    assert done["outputs"] == {"exit_code": 0}
    assert len(list(marks.iterdir())) == 1
    assert re.fullmatch(r"back-\d+", next(marks.iterdir()).name)
