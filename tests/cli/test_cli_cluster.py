"""`cluster token|leave|discovered|status`, `join` and `nodes evict` against real agents.

Three agents are shared by the whole module: `hub` issues tokens, `joiner` joins and leaves
(every test leaves it alone again), `victim` is only joined to be evicted (after which it
cannot join the hub's cluster again).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.conftest import invoke_agent
from tests.harness import AgentProcess, agent_processes, call, join, wait_until

WAIT = 15


def status_of(agent: AgentProcess) -> dict[str, Any]:
    body: dict[str, Any] = call(agent, "GET", "/api/status").json()
    return body


def node_ids(agent: AgentProcess) -> set[str]:
    return {n["node_id"] for n in call(agent, "GET", "/api/nodes").json()["nodes"]}


def wait_for_counts(count: int, *agents: AgentProcess) -> None:
    for agent in agents:
        wait_until(
            lambda a=agent: status_of(a)["online_count"] == status_of(a)["node_count"] == count,
            WAIT,
            f"{agent.home.name} to see {count} node(s) online",
        )


def alone(leaver: AgentProcess, hub: AgentProcess) -> None:
    """Undo a join: `leaver` leaves (if still in) and `hub` stops listing it."""
    if status_of(leaver)["in_cluster"]:
        assert call(leaver, "POST", "/api/cluster/leave").status_code == 200
    leaver_id = leaver.info["node_id"]
    wait_until(lambda: leaver_id not in node_ids(hub), WAIT, "the leave to reach the hub")


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    base = tmp_path_factory.mktemp("cluster")
    with agent_processes([base / name for name in ("hub", "joiner", "victim")]) as started:
        yield started


@pytest.fixture
def hub(agents: list[AgentProcess]) -> AgentProcess:
    return agents[0]


@pytest.fixture
def joiner(agents: list[AgentProcess]) -> Iterator[AgentProcess]:
    yield agents[1]
    alone(agents[1], agents[0])


@pytest.fixture
def joined(hub: AgentProcess, joiner: AgentProcess) -> AgentProcess:
    """`joiner` in the hub's cluster (through the API), both seeing two nodes online."""
    response = join(joiner, hub)
    assert response.status_code == 200, response.text
    wait_for_counts(2, hub, joiner)
    return joiner


def test_token_quiet_prints_only_the_token(hub: AgentProcess) -> None:
    result = invoke_agent(hub, "cluster", "token", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert re.fullmatch(r"ofj1\.[A-Za-z0-9_-]+\n", result.stdout)


def test_token_table_shows_the_command_url_and_fingerprint(hub: AgentProcess) -> None:
    result = invoke_agent(hub, "cluster", "token")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    command = re.search(r"^  (openfabric join (ofj1\.\S+))$", text, re.M)
    assert command is not None, text
    assert re.search(rf"^  https://127\.0\.0\.1:\d+/join/{re.escape(command[2])}$", text, re.M)
    fingerprint = call(hub, "GET", f"/api/nodes/{hub.info['node_id']}").json()["fingerprint"]
    blocks = " ".join(re.findall("....", fingerprint))
    assert re.search(rf"^Fingerprint\s+{blocks}$", text, re.M)
    assert re.search(r"^Expires\s+in (\d+m)?(\d+s)? \(single use\)$", text, re.M)


def test_token_as_json(hub: AgentProcess) -> None:
    body = json.loads(invoke_agent(hub, "cluster", "token", "--format", "json").stdout)
    assert body["command"] == f"openfabric join {body['token']}"
    assert body["issuer"]["node_id"] == hub.info["node_id"]
    assert 0 < body["expires_in"] <= 600


def test_join_through_the_cli(hub: AgentProcess, joiner: AgentProcess) -> None:
    token = invoke_agent(hub, "cluster", "token", "-q").stdout.strip()
    result = invoke_agent(joiner, "join", token)
    assert result.exit_code == 0, result.stderr
    cluster_id = status_of(hub)["cluster_id"]
    assert cluster_id
    assert result.stdout == (
        f"joined cluster {cluster_id} via {hub.info['node_id'][:12]}: 2 members\n"
    )
    wait_for_counts(2, hub, joiner)
    assert status_of(joiner)["cluster_id"] == cluster_id

    # A token joins once: not even the same node can use it again after leaving.
    alone(joiner, hub)
    again = invoke_agent(joiner, "join", token)
    assert again.exit_code == 1
    assert again.stderr.endswith("(TOKEN_USED)\n")
    assert again.stderr.count("\n") == 1


def test_join_accepts_the_join_url(hub: AgentProcess, joiner: AgentProcess) -> None:
    url = json.loads(invoke_agent(hub, "cluster", "token", "--format", "json").stdout)["join_url"]
    result = invoke_agent(joiner, "join", url, "--format", "json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["joined_via"] == hub.info["node_id"]
    assert set(body["members"]) == {hub.info["node_id"], joiner.info["node_id"]}


def test_join_with_a_garbage_token_is_one_line(agents: list[AgentProcess]) -> None:
    result = invoke_agent(agents[1], "join", "not-a-token")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("openfabric: not a valid join token")
    assert result.stderr.endswith("(INVALID_TOKEN)\n")
    assert result.stderr.count("\n") == 1


def test_joining_twice_is_refused(hub: AgentProcess, joined: AgentProcess) -> None:
    token = invoke_agent(hub, "cluster", "token", "-q").stdout.strip()
    result = invoke_agent(joined, "join", token)
    assert result.exit_code == 1
    assert result.stderr.endswith("(ALREADY_IN_CLUSTER)\n")


def test_members_show_in_status_and_nodes_list(hub: AgentProcess, joined: AgentProcess) -> None:
    status = invoke_agent(hub, "status").stdout
    assert re.search(rf"^Cluster\s+{status_of(hub)['cluster_id']}$", status, re.M)
    assert re.search(r"^Nodes\s+2 online / 2 total$", status, re.M)
    alias = json.loads(invoke_agent(hub, "cluster", "status", "--format", "json").stdout)
    assert alias["node_count"] == 2
    assert alias["in_cluster"] is True

    header, *rows = invoke_agent(hub, "nodes", "list").stdout.splitlines()
    assert re.split(r"\s{2,}", header)[2::5] == ["STATE", "LAST SEEN"]
    assert len(rows) == 2
    (remote,) = [row for row in rows if row.startswith(joined.info["node_id"][:12] + " ")]
    assert " online " in remote
    assert re.search(r"(\d+[smhd] ago|never)$", remote)


def test_leave_with_yes(hub: AgentProcess, joined: AgentProcess) -> None:
    cluster_id = status_of(hub)["cluster_id"]
    result = invoke_agent(joined, "cluster", "leave", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"left cluster {cluster_id}\n"
    assert status_of(joined)["in_cluster"] is False
    assert status_of(joined)["cluster_id"] is None
    wait_until(
        lambda: joined.info["node_id"] not in node_ids(hub), WAIT, "the leave to reach the hub"
    )
    again = invoke_agent(joined, "cluster", "leave", "--yes")
    assert again.exit_code == 1
    assert again.stderr.endswith("(NOT_IN_CLUSTER)\n")


def test_discovered_with_mdns_off(hub: AgentProcess) -> None:
    body = json.loads(invoke_agent(hub, "cluster", "discovered", "--format", "json").stdout)
    assert body == {"agents": [], "count": 0, "mdns": False}
    table = invoke_agent(hub, "cluster", "discovered")
    assert table.exit_code == 0
    assert table.stdout == "mDNS discovery is off on this agent\n"


def test_evict_a_member(hub: AgentProcess, agents: list[AgentProcess]) -> None:
    victim = agents[2]
    victim_id = victim.info["node_id"]
    assert join(victim, hub).status_code == 200
    wait_for_counts(2, hub, victim)
    # The short ID `nodes list` shows is enough.
    result = invoke_agent(hub, "nodes", "evict", victim_id[:12], "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"evicted {victim_id}\n"
    listed = json.loads(invoke_agent(hub, "nodes", "list", "--format", "json").stdout)
    assert victim_id not in {n["node_id"] for n in listed["nodes"]}
    assert listed["count"] == 1
    wait_until(lambda: not status_of(victim)["in_cluster"], WAIT, "the victim to be told")
    gone = invoke_agent(hub, "nodes", "evict", victim_id, "--yes")
    assert gone.exit_code == 1
    assert gone.stderr.endswith("(NODE_NOT_FOUND)\n")
