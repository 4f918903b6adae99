"""`openfabric memory list|add|rm|search|clear` and `openfabric pulse insights|dismiss|history|
weekly` against one real agent (the real embedding model for search, a Pulse rule every
machine trips for a card); the views of what one agent cannot show on cue (tokens, missing
members) from models built here.

The agent is shared by the module: memory tests work on facts of their own; clearing runs
last among them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from agent.pulse.models import InsightList, WeeklyDigest
from cli.commands.pulse import insights_view, weekly_view
from cli.main import cli
from tests.cli.conftest import cli_env, invoke_agent
from tests.harness import AgentProcess, agent_process, call, wait_until
from tests.pulse_rules import ALWAYS_RULE, always_rules

pytestmark = pytest.mark.timeout(240)
NAME = "greenhouse"
SHORT = r"[0-9a-f]{12}"
FULL = r"[0-9a-f]{32}"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("memory-pulse-cli")
    env = {"OPENFABRIC_PULSE_INTERVAL": "0.2", "OPENFABRIC_PULSE_RULES": str(always_rules(root))}
    with agent_process(root / "agent-home", "--node-name", NAME, env=env) as started:
        yield started


def ok(agent: AgentProcess, *args: str) -> str:
    result = invoke_agent(agent, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def refused(agent: AgentProcess, *args: str, code: int = 1) -> str:
    result = invoke_agent(agent, *args)
    assert result.exit_code == code, result.stdout
    assert result.stdout == ""
    return result.stderr


def facts(agent: AgentProcess, history: bool = True) -> list[dict[str, Any]]:
    params = {"include_superseded": "true"} if history else {}
    found: list[dict[str, Any]] = call(agent, "GET", "/api/memory", params=params).json()["facts"]
    return found


def added_id(line: str) -> str:
    match = re.match(rf"(?:remembered|already remembered as) ({FULL})", line)
    assert match, line
    return match.group(1)


# --- memory --------------------------------------------------------------------------------


def test_add_twice_then_list(agent: AgentProcess) -> None:
    first = ok(agent, "memory", "add", "The hose reel is in the shed", "--tag", "garden")
    fact_id = added_id(first)
    assert first == f"remembered {fact_id}: The hose reel is in the shed\n"
    again = ok(agent, "memory", "add", "the hose reel is in the shed.")
    assert again == f"already remembered as {fact_id}: The hose reel is in the shed\n"
    table = ok(agent, "memory", "list")
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "KEY", "TAGS", "SOURCE", "NODE", "AGE", "TEXT"]
    (row,) = [r for r in rows if r.startswith(fact_id[:12])]
    columns = rf"{fact_id[:12]}\s+-\s+garden\s+manual\s+{NAME}\s+\S+ ago\s+"
    assert re.fullmatch(columns + "The hose reel is in the shed", row), row
    doc = json.loads(ok(agent, "memory", "list", "--format", "json"))
    assert doc == call(agent, "GET", "/api/memory").json()


def test_a_key_supersedes_and_all_shows_the_history(agent: AgentProcess) -> None:
    old = added_id(ok(agent, "memory", "add", "The wifi password is tulip", "--key", "home.wifi"))
    line = ok(agent, "memory", "add", "The wifi password is crocus", "--key", "home.wifi")
    new = added_id(line)
    assert line == f"remembered {new}, superseding {old}: The wifi password is crocus\n"
    active = ok(agent, "memory", "list")
    assert "crocus" in active
    assert "tulip" not in active
    history = ok(agent, "memory", "list", "--all")
    assert history.splitlines()[0].split()[-2:] == ["STATE", "TEXT"]
    (row,) = [r for r in history.splitlines() if r.startswith(old[:12])]
    assert re.search(rf"home\.wifi .*superseded by {new[:12]}\s+The wifi password is tulip$", row)
    (current,) = [r for r in history.splitlines() if r.startswith(new[:12])]
    assert re.search(r"\sactive\s+The wifi password is crocus$", current)


def test_search_ranks_by_meaning(agent: AgentProcess) -> None:
    wanted = added_id(ok(agent, "memory", "add", "Grandma's birthday is on the 3rd of May"))
    ok(agent, "memory", "add", "The car's tyres were changed in spring")
    table = ok(agent, "memory", "search", "when should I call my grandmother", "-k", "2")
    header, first, *rest = table.splitlines()
    assert header.split() == ["SCORE", "ID", "KEY", "TEXT"]
    assert re.fullmatch(rf"0\.\d{{4}}\s+{wanted[:12]}\s+-\s+Grandma's birthday .*", first), first
    assert len(rest) <= 1
    doc = json.loads(ok(agent, "memory", "search", "grandmother", "-k", "1", "--format", "json"))
    assert doc["hits"][0]["fact"]["id"] == wanted
    assert "1<=x<=50" in refused(agent, "memory", "search", "x", "-k", "0", code=2)
    assert "VALIDATION_ERROR" in refused(agent, "memory", "search", "")


def test_rm_by_short_id_then_again(agent: AgentProcess) -> None:
    fact_id = added_id(ok(agent, "memory", "add", "The ladder is lent to Sam"))
    assert ok(agent, "memory", "rm", fact_id[:12]) == f"removed {fact_id}\n"
    assert fact_id not in {f["id"] for f in facts(agent)}
    again = refused(agent, "memory", "rm", fact_id)
    assert again.startswith("openfabric: ")
    assert again.rstrip().endswith("(FACT_NOT_FOUND)")
    assert len(again.splitlines()) == 1


def test_bad_facts_are_refused_in_one_line(agent: AgentProcess) -> None:
    before = facts(agent)
    for args in (["x", "--key", "not a key"], ["y" * 2001], [""]):
        problem = refused(agent, "memory", "add", *args)
        assert problem.startswith("openfabric: ")
        assert "VALIDATION_ERROR" in problem
        assert len(problem.splitlines()) == 1
    assert facts(agent) == before


def test_clear_asks_first_and_refuses_without_a_terminal(
    agent: AgentProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(agent, "memory", "add", "The bins go out on Tuesday")
    total = len(facts(agent))
    no_tty = refused(agent, "memory", "clear")
    assert no_tty == (
        "openfabric: nothing cleared: confirm with --yes when not running in a terminal\n"
    )
    monkeypatch.setattr("cli.runtime.interactive", lambda: True)
    args = ["--url", agent.url, "memory", "clear"]
    env = cli_env(agent.home, agent.token)
    declined = CliRunner().invoke(cli, args, input="n\n", env=env, catch_exceptions=False)
    assert declined.exit_code == 1
    assert "Forget every fact on every member?" in declined.stderr
    assert declined.stderr.endswith("openfabric: nothing cleared\n")
    assert len(facts(agent)) == total
    accepted = CliRunner().invoke(cli, args, input="y\n", env=env, catch_exceptions=False)
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.stdout == f"removed {total} facts, history included\n"
    assert facts(agent) == []
    assert ok(agent, "memory", "list") == "no facts remembered\n"
    doc = json.loads(ok(agent, "memory", "clear", "--yes", "--format", "json"))
    assert doc == {"removed": 0}


# --- pulse ---------------------------------------------------------------------------------


def insight(agent: AgentProcess) -> dict[str, Any] | None:
    body = call(agent, "GET", "/api/pulse/insights").json()
    return next((c for c in body["insights"] if c["rule"] == ALWAYS_RULE), None)


@pytest.fixture(scope="module")
def card(agent: AgentProcess) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(lambda: insight(agent), 60, "the pulse card")
    return found


def test_insights_table_and_json(agent: AgentProcess, card: dict[str, Any]) -> None:
    table = ok(agent, "pulse", "insights")
    header, *lines = table.splitlines()
    assert header.split() == ["SEVERITY", "TITLE", "NODE", "SINCE", "ID"]
    (row,) = [line for line in lines if line.endswith(f"  {card['id']}")]
    title = re.escape(card["title"])
    assert re.match(rf"{card['severity']}\s+{title}\s+{NAME}\b.*\s\d+[smhd] ago\s+", row), row
    assert f"{card['id']}\n  {card['what']}\n  do: {card['action']}" in table
    doc = json.loads(ok(agent, "pulse", "insights", "--format", "json"))
    assert card["id"] in {c["id"] for c in doc["insights"]}
    assert set(doc) >= {"insights", "count", "evaluator"}


def test_history_of_one_rule_on_one_node(agent: AgentProcess, card: dict[str, Any]) -> None:
    text = ok(agent, "pulse", "history", "--rule", ALWAYS_RULE, "--node", NAME, "--limit", "3")
    changes, evaluations = text.rstrip("\n").split("\n\n")
    assert changes.splitlines()[0].split() == ["TIME", "INSIGHT", "CHANGE"]
    assert re.search(rf"^\d\d:\d\d:\d\d\s+{re.escape(card['id'])}\s+ok -> ", changes, re.M)
    head, *rows = evaluations.splitlines()
    assert head.split() == ["TIME", "RULE", "NODE", "VALUE", "STATUS"]
    assert 1 <= len(rows) <= 3
    assert all(row.split()[1] == ALWAYS_RULE for row in rows)
    doc = json.loads(ok(agent, "pulse", "history", "--rule", "no-such", "--format", "json"))
    assert doc["evaluations"] == []
    assert "1<=x<=1000" in refused(agent, "pulse", "history", "--limit", "0", code=2)


def test_weekly_digest(agent: AgentProcess) -> None:
    text = ok(agent, "pulse", "weekly")
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    assert re.search(rf"^Period\s+{when} to {when}$", text, re.M)
    assert re.search(r"^Storage\s+[+-]\d", text, re.M)
    assert re.search(rf"^{NAME}\s+\d+\.\d%\s+\d", text, re.M)
    doc = json.loads(ok(agent, "pulse", "weekly", "--format", "json"))
    assert [u["node_name"] for u in doc["uptime"]] == [NAME]


def test_dismiss_then_unknown(agent: AgentProcess, card: dict[str, Any]) -> None:
    line = ok(agent, "pulse", "dismiss", card["id"])
    assert line.startswith(f"dismissed {card['id']}: {card['title']}")
    assert card["id"] not in ok(agent, "pulse", "insights")
    shown = ok(agent, "pulse", "insights", "--all")
    assert re.search(rf"\(dismissed\).*{re.escape(card['id'])}$", shown, re.M)
    unknown = refused(agent, "pulse", "dismiss", "no-such:card")
    assert unknown.rstrip().endswith("(INSIGHT_NOT_FOUND)")


# --- what one agent does not show on cue ---------------------------------------------------


def test_weekly_view_names_nodes_tokens_and_missing_members() -> None:
    a, b = "a" * 64, "b" * 64
    digest = WeeklyDigest.model_validate(
        {
            "since": 1_700_000_000.0, "until": 1_700_604_800.0,
            "uptime": [{"node_id": a, "node_name": "attic", "online_s": 90_000.0,
                        "uptime_percent": 99.5}],
            "tasks": [{"node_id": None, "run": 12, "failed": 2},
                      {"node_id": a, "run": 12, "failed": 2}],
            "storage": {"start_bytes": 2048, "end_bytes": 1024, "growth_bytes": -1024},
            "tokens": [{"model": "qwen2.5:0.5b", "node_id": a, "tokens": 700},
                       {"model": "llama3.2:3b", "node_id": b, "tokens": 50}],
            "top_insights": [{"rule": "disk", "title": "Disk nearly full", "raised": 3,
                              "active_s": 7200.0}],
            "missing": [b],
        }
    )  # fmt: skip
    text = weekly_view(digest)
    assert re.search(r"^Storage\s+-1.0 KiB \(2.0 KiB -> 1.0 KiB\)$", text, re.M)
    assert re.search(r"^Tokens\s+750$", text, re.M)
    assert re.search(r"^attic\s+99\.5%\s+1d 1h$", text, re.M)
    assert re.search(r"^cluster total\s+12\s+2$", text, re.M)
    assert re.search(r"^qwen2\.5:0\.5b\s+attic\s+700$", text, re.M)
    assert re.search(rf"^llama3\.2:3b\s+{b[:12]}\s+50$", text, re.M)
    assert re.search(r"^Disk nearly full\s+3\s+2h$", text, re.M)
    assert text.endswith(f"not asked (no answer): {b[:12]}")


def test_insights_view_all_clear() -> None:
    empty = InsightList(insights=[], count=0, evaluator=None)
    assert insights_view(empty) == "all clear: no insight is active"
