"""`openfabric brain status|search|reindex|forget` and `llm chat --brain` against one real
agent indexing a small folder of documents, with the fake Ollama as its LLM.

The agent is shared by the module (its embedding model takes seconds to load): tests that
change the index use files or folders of their own, and put the source list back.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.client import BrainSearchAnswer, NotSearched
from cli.commands.brain import search_view
from cli.main import cli
from tests.cli.conftest import OPENFABRIC_SCRIPT, cli_env, invoke_agent, process_env
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import REPO, AgentProcess, agent_process, call, wait_until

# Generous: the first scan loads the embedding model, slow on a busy machine.
pytestmark = pytest.mark.timeout(240)
MODEL = "qwen2.5:0.5b"
REPLY = "Rinse the lentils first [1]."
DOCS = {
    "lentils.md": "# Cooking\n\n## Lentils\n\nRinse red lentils, then simmer them for twenty "
    "minutes with cumin and a bay leaf.\n",
    "bikes.txt": "Check the bicycle chain every month and oil it after riding in the rain.\n",
    "trips/alps.md": "# Trips\n\n## Alps\n\nThe mountain hut above the glacier opens in "
    "June; bring crampons.\n",
    "trips/forget.txt": "The quokka postcard is pinned to the fridge.\n",
}
BLOB = b"\x00\x01\x02\xff" * 64  # binary: skipped, with its reason


def write_docs(root: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def brain_status(agent: AgentProcess) -> dict[str, Any]:
    response = call(agent, "GET", "/api/brain/status")
    assert response.status_code == 200, response.text
    return dict(response.json())


def settled(agent: AgentProcess, files: int) -> bool:
    status = brain_status(agent)
    return bool(status["files"] == files and status["queue"] == 0 and not status["indexing"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_docs(tmp_path_factory.mktemp("brain-cli") / "docs", DOCS)
    (root / "dump.txt").write_bytes(BLOB)
    return root


@pytest.fixture(scope="module")
def ollama(corpus: Path) -> Iterator[FakeOllamaProcess]:
    fake = FakeOllama(models=[MODEL], reply_text=REPLY)
    with fake_ollama_process(corpus.parent / "ollama.json", fake) as proc:
        yield proc


@pytest.fixture(scope="module")
def agent(corpus: Path, ollama: FakeOllamaProcess) -> Iterator[AgentProcess]:
    home = corpus.parent / "agent-home"
    env = {"OPENFABRIC_BRAIN_PATHS": str(corpus)}
    with agent_process(home, "--ollama-url", ollama.url, env=env) as started:
        wait_until(lambda: settled(started, len(DOCS)), 180, "the first scan to index the docs")
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


def sources_of(agent: AgentProcess) -> list[str]:
    return [s["path"] for s in brain_status(agent)["sources"]]


def on_terminal(agent: AgentProcess, *args: str) -> tuple[int, str, str]:
    """The installed `openfabric` as a real process whose stderr is a terminal (a pty), as a
    person running it sees it: (exit code, stdout, what the terminal showed)."""
    main, secondary = pty.openpty()
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                block = os.read(main, 4096)
            except OSError:  # EIO: the process closed the terminal
                return
            if not block:
                return
            shown.append(block)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    script = OPENFABRIC_SCRIPT.exists()
    command = [str(OPENFABRIC_SCRIPT)] if script else [sys.executable, "-m", "cli"]
    try:
        with subprocess.Popen(
            [*command, "--url", agent.url, *args],
            cwd=REPO,
            env=process_env(agent.home, agent.token),
            stdout=subprocess.PIPE,
            stderr=secondary,
        ) as process:
            os.close(secondary)
            stdout, _ = process.communicate(timeout=60)
        reader.join(10)
    finally:
        os.close(main)
    return process.returncode, stdout.decode(), b"".join(shown).decode(errors="replace")


# --- status --------------------------------------------------------------------------------


def test_status_table_and_json(agent: AgentProcess, corpus: Path) -> None:
    table = ok(agent, "brain", "status")
    assert re.search(r"^State\s+available$", table, re.M)
    assert re.search(rf"^Files\s+{len(DOCS)}$", table, re.M)
    assert re.search(r"^Skipped\s+binary 1$", table, re.M)
    assert re.search(r"^Model\s+.*\(loaded\), 384 dimensions$", table, re.M)
    assert re.search(r"^Queue\s+0 files$", table, re.M)
    assert re.search(rf"^{re.escape(str(corpus))}\s+yes\s+{len(DOCS)}\s+\d+$", table, re.M)
    assert re.search(rf"^{re.escape(str(corpus / 'dump.txt'))}\s+binary\s+\S", table, re.M)
    doc = json.loads(ok(agent, "brain", "status", "--format", "json"))
    expected = brain_status(agent)
    volatile = ("embedding_rate", "last_change")
    assert {k: v for k, v in doc.items() if k not in volatile} == {
        k: v for k, v in expected.items() if k not in volatile
    }


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "query", "expected"),
    [
        ("vector", "cycling maintenance in wet weather", "bikes.txt"),
        ("lexical", "crampons", "trips/alps.md"),
        ("hybrid", "how long to cook lentils", "lentils.md"),
    ],
)
def test_search_shows_one_block_per_result(
    agent: AgentProcess, corpus: Path, mode: str, query: str, expected: str
) -> None:
    text = ok(agent, "brain", "search", query, "--mode", mode, "-k", "2")
    blocks = text.rstrip("\n").split("\n\n")
    first = blocks[0].splitlines()
    path = re.escape(str(corpus / expected))
    assert re.fullmatch(rf"\[1\] \d+\.\d{{4}}  \S+  {path}:\d+-\d+", first[0]), first
    assert first[-1].startswith("    ")
    assert first[-1].strip()
    assert re.fullmatch(rf"\d results? \({mode}\) from 1 node in \d+ ms", blocks[-1])
    assert len(blocks) <= 3


def test_search_block_shows_the_headings(agent: AgentProcess) -> None:
    text = ok(agent, "brain", "search", "crampons", "--mode", "lexical", "-k", "1")
    assert text.splitlines()[1] == "    Trips > Alps"


def test_search_json_prefix_and_node(agent: AgentProcess, corpus: Path) -> None:
    node_id = brain_status(agent)["node_id"]
    trips = str(corpus / "trips")
    args = ["--path", trips, "--node", node_id[:12], "--format", "json"]
    doc = json.loads(ok(agent, "brain", "search", "mountain glacier", *args))
    assert doc["searched"] == [node_id]
    assert doc["hits"]
    assert all(hit["path"].startswith(trips) for hit in doc["hits"])
    assert "NODE_NOT_FOUND" in refused(agent, "brain", "search", "x", "--node", "f" * 64)


def test_search_names_the_members_not_searched(agent: AgentProcess) -> None:
    """A member that could not be asked is named under the results (an offline member cannot
    be had on cue from one agent, so it is added to a real answer)."""
    response = call(agent, "GET", "/api/brain/search", params={"q": "chain oil", "k": "1"})
    found = BrainSearchAnswer.model_validate(response.json())
    gone = NotSearched(node_id="ab" * 32, name="attic-pc", reason="offline")
    text = search_view(found.model_copy(update={"not_searched": [gone]}))
    assert text.endswith("\n\nnot searched: attic-pc (abababababab): offline")


def test_bad_searches(agent: AgentProcess) -> None:
    assert "VALIDATION_ERROR" in refused(agent, "brain", "search", "")
    assert "1<=x<=50" in refused(agent, "brain", "search", "x", "-k", "0", code=2)
    assert "1<=x<=50" in refused(agent, "brain", "search", "x", "-k", "51", code=2)
    assert "'fuzzy' is not one of" in refused(
        agent, "brain", "search", "x", "--mode", "fuzzy", code=2
    )


# --- reindex -------------------------------------------------------------------------------


def test_reindex_on_a_terminal_shows_a_meter_then_a_summary(agent: AgentProcess) -> None:
    code, stdout, shown = on_terminal(agent, "brain", "reindex")
    assert code == 0, shown
    assert re.fullmatch(
        rf"reindexed {len(DOCS) + 1} files in \d+\.\ds: 0 chunks embedded, \d+ reused, "
        r"\d+ skipped, 0 removed\n",
        stdout,
    )
    meter = rf"\rreindex  {len(DOCS) + 1}/{len(DOCS) + 1} files  0 chunks embedded, \d+ reused"
    assert re.search(meter + r"  \d+\.\d chunks/s *\r?\n", shown), shown


def test_reindex_without_a_terminal_prints_the_summary_only(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "brain", "reindex", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    done = json.loads(result.stdout)
    assert done["done"] is True
    assert done["files_seen"] == done["files_done"] == len(DOCS) + 1


def test_reindex_of_a_relative_path(
    agent: AgentProcess, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus / "trips")
    doc = json.loads(ok(agent, "brain", "reindex", "alps.md", "--format", "json"))
    assert (doc["done"], doc["files_seen"]) == (True, 1)
    outside = refused(agent, "brain", "reindex", "../../elsewhere.md")
    assert "PATH_OUTSIDE_SOURCES" in outside


def test_reindex_add_and_remove_a_source(agent: AgentProcess, corpus: Path) -> None:
    extra = write_docs(corpus.parent / "extra", {"owls.md": "# Owls\n\nBarn owls hunt voles.\n"})
    try:
        added = ok(agent, "brain", "reindex", "--add", str(extra))
        assert re.fullmatch(r"reindexed \d+ files in .*: [1-9]\d* chunks embedded, .*\n", added)
        assert sources_of(agent) == [str(corpus), str(extra)]
        found = ok(agent, "brain", "search", "barn owls", "--mode", "lexical")
        assert str(extra / "owls.md") in found
        assert "is not a brain source" in refused(agent, "brain", "reindex", "--remove", "/x")
    finally:
        removed = ok(agent, "brain", "reindex", "--remove", str(extra))
    assert removed.startswith("reindexed ")
    assert sources_of(agent) == [str(corpus)]
    assert "nothing found" in ok(agent, "brain", "search", "barn owls", "--mode", "lexical")


def test_reindex_source_replaces_the_list(agent: AgentProcess, corpus: Path) -> None:
    other = write_docs(corpus.parent / "other", {"kites.txt": "Kites fly on windy days.\n"})
    try:
        ok(agent, "brain", "reindex", "--source", str(other))
        assert sources_of(agent) == [str(other)]
    finally:
        ok(agent, "brain", "reindex", "--source", str(corpus))
        wait_until(lambda: settled(agent, len(DOCS)), 60, "the docs to be indexed again")
    assert sources_of(agent) == [str(corpus)]


def test_reindex_refusals(agent: AgentProcess, tmp_path: Path) -> None:
    both = refused(agent, "brain", "reindex", "--source", "/a", "--add", "/b", code=2)
    assert "not both" in both
    assert "not both" in refused(agent, "brain", "reindex", "x.md", "--add", "/b", code=2)
    assert "SOURCE_NOT_FOUND" in refused(agent, "brain", "reindex", "--add", str(tmp_path / "no"))


# --- forget --------------------------------------------------------------------------------


def test_forget_then_forget_again(agent: AgentProcess, corpus: Path) -> None:
    target = corpus / "trips" / "forget.txt"
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    line = ok(agent, "brain", "forget", digest)
    assert re.fullmatch(rf"forgot {digest}: [1-9]\d* chunks of {re.escape(str(target))}\n", line)
    assert "nothing found" in ok(agent, "brain", "search", "quokka", "--mode", "lexical")
    again = refused(agent, "brain", "forget", digest)
    assert again.startswith("openfabric: ")
    assert again.rstrip().endswith("(HASH_NOT_FOUND)")
    assert "INVALID_HASH" in refused(agent, "brain", "forget", "not-a-hash")


# --- chat with the brain ---------------------------------------------------------------------


def test_chat_with_the_brain_cites_its_sources(agent: AgentProcess, corpus: Path) -> None:
    args = ["llm", "chat", MODEL, "-p", "How do I cook lentils?", "--brain-k", "2"]
    result = invoke_agent(agent, *args, "--quiet")
    assert result.exit_code == 0, result.stderr
    answer, cited = result.stdout.split("\n\n", 1)
    assert answer == REPLY
    citations = cited.splitlines()
    assert 1 <= len(citations) <= 2
    path = re.escape(str(corpus / "lentils.md"))
    assert any(re.fullmatch(rf"\[\d\] \S+:{path}:\d+-\d+", c) for c in citations), citations
    assert citations[0].startswith("[1] ")
    doc = json.loads(ok(agent, *args, "--format", "json"))
    assert [s["n"] for s in doc["sources"]] == list(range(1, len(doc["sources"]) + 1))


def test_chat_without_the_brain_cites_nothing(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "llm", "chat", MODEL, "-p", "hi", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == REPLY + "\n"


def test_interactive_chat_with_the_brain_cites_under_each_answer(
    agent: AgentProcess, corpus: Path
) -> None:
    trips = str(corpus / "trips")
    args = ["--url", agent.url, "llm", "chat", MODEL, "--brain-path", trips, "--brain-k", "1"]
    result = CliRunner().invoke(
        cli,
        args,
        input="where is the hut?\nwhen does it open?\n/exit\n",
        env=cli_env(agent.home, agent.token),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    cited = re.findall(r"^\[1\] \S+:(\S+):\d+-\d+$", result.stdout, re.M)
    assert cited == [str(corpus / "trips" / "alps.md")] * 2, result.stdout
