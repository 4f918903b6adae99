"""The cluster commands' rendering and confirmation, without an agent."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.client import Discovered, DiscoveredAgent, EvictResult, JoinResult
from cli.commands.cluster import (
    discovered_table,
    expires,
    fingerprint_blocks,
    joined_table,
    token_of,
)
from cli.commands.nodes import evict_text
from cli.main import cli
from tests.cli.conftest import cli_env, free_port, invoke


def test_fingerprint_blocks() -> None:
    assert fingerprint_blocks("ab12cd34ef") == "ab12 cd34 ef"
    assert fingerprint_blocks("0" * 64).count(" ") == 15


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(599.998, "in 9m59s"), (600.0, "in 10m"), (59.2, "in 59s"), (0, "expired")],
)
def test_expires(seconds: float, text: str) -> None:
    assert expires(seconds) == text


@pytest.mark.parametrize(
    "given",
    [
        "ofj1.abc_-",
        "  ofj1.abc_-\n",
        "https://192.0.2.1:4893/join/ofj1.abc_-",
        "https://192.0.2.1:4893/join/ofj1.abc_-/",
        "https://192.0.2.1:4893/join/ofj1.abc_-?lang=en#top",
    ],
)
def test_token_of_takes_the_token_or_its_join_url(given: str) -> None:
    assert token_of(given) == "ofj1.abc_-"


def test_joined_table() -> None:
    result = JoinResult(cluster_id="c0ffee", joined_via="n" * 20, members=["a", "b", "c"])
    assert joined_table(result) == f"joined cluster c0ffee via {'n' * 12}: 3 members"


def test_discovered_table() -> None:
    now = time.time()
    body = Discovered(
        agents=[
            DiscoveredAgent(
                node_id="x" * 26,
                name="desk",
                cluster_id=None,
                addresses=["192.0.2.7", "fe80::1"],
                peer_port=4893,
                fingerprint="ab" * 32,
                version="0.1.0",
                first_seen=now - 60,
                last_seen=now - 5,
            )
        ],
        count=1,
        mdns=True,
    )
    header, row = discovered_table(body).splitlines()
    assert re.split(r"\s{2,}", header) == [
        "NODE ID",
        "NAME",
        "ADDRESSES",
        "CLUSTER",
        "VERSION",
        "LAST SEEN",
    ]
    cells = re.split(r"\s{2,}", row)
    assert cells[:5] == ["x" * 12, "desk", "192.0.2.7, fe80::1", "-", "0.1.0"]
    assert re.fullmatch(r"\ds ago", cells[5])
    assert discovered_table(Discovered(agents=[], count=0, mdns=True)).startswith("no other")
    assert discovered_table(Discovered(agents=[], count=0, mdns=False)) == (
        "mDNS discovery is off on this agent"
    )


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (["cluster", "leave"], "not leaving"),
        (["nodes", "evict", "abc"], "not evicted"),
    ],
)
def test_without_a_terminal_yes_is_required(tmp_path: Path, args: list[str], refused: str) -> None:
    result = invoke(["--url", f"http://127.0.0.1:{free_port()}", *args], tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"openfabric: {refused}: confirm with --yes when not running in a terminal\n"
    )


def test_on_a_terminal_the_prompt_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cli.runtime.interactive", lambda: True)
    port = free_port()
    args = ["--url", f"http://127.0.0.1:{port}", "cluster", "leave"]
    runner = CliRunner()
    no = runner.invoke(cli, args, input="n\n", env=cli_env(tmp_path))
    assert no.exit_code == 1
    assert no.stderr.startswith("Leave the cluster? This node will go on alone. [y/N]: ")
    assert no.stderr.endswith("openfabric: not leaving\n")
    # Yes goes on to the agent (none here, so that is the error).
    yes = runner.invoke(cli, args, input="y\n", env=cli_env(tmp_path))
    assert yes.exit_code == 1
    assert yes.stderr.endswith(
        f"no agent is answering at http://127.0.0.1:{port} (start one with 'openfabric serve')\n"
    )


def test_evict_text_lists_whom_the_node_admitted() -> None:
    alone = EvictResult(node_id="n1", evicted=True, admitted=[], also_evicted=[])
    assert evict_text(alone, "n") == "evicted n1"
    result = EvictResult.model_validate(
        {
            "node_id": "n1",
            "evicted": True,
            "admitted": [
                {"node_id": "n2", "name": "desk", "status": "member"},
                {"node_id": "n3", "name": "nas", "status": "evicted"},
            ],
            "also_evicted": ["n3"],
        }
    )
    assert evict_text(result, "n").splitlines() == [
        "evicted n1",
        "  admitted n2 (desk): still a member, review it",
        "  admitted n3 (nas): evicted too",
    ]
