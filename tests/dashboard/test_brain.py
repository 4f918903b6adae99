"""The Brain page and the chat's "Use documents" in a real Chromium against a real agent that
indexes a folder of Markdown with the real embedding model: sources and counts, search with
path and lines, adding a folder (indexed, then followed live), removing it, rescans with their
progress (this page's and one started elsewhere), refusals shown inline, an answer citing the
passages its prompt carried, and the phone width."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import MODEL_A, PHONE, Dash, expect, open_dash
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import AgentProcess, agent_process, call, join, online_count, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JOINING = "The quokka protocol keeps joins short:\nrun openfabric join with the token."
GUIDE = f"# Fabric guide\n\n## Joining\n\n{JOINING}\n\n## Storage\n\nFiles are split into chunks.\n"
RECIPES = "# Kitchen\n\n## Bread\n\nKnead the dough for ten minutes, then let it rise.\n"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">.md"
HOSTILE_TEXT = "# <b>Marmalade</b>\n\n<script>document.title='pwned'</script> marmalade toast\n"
REPLY = "Run openfabric join with the token [1]."
INDEX_WAIT_S = 120  # the first scan loads the embedding model
BULK = 30  # files in the added folder: enough for a scan that reports progress before done
# Marks the document (a reload would lose it) and records every state the scan panel shows.
RECORD_SCANS = """() => {
  window.sameDocument = true;
  window.scans = [];
  const panel = document.querySelector("[data-scan]");
  new MutationObserver(() => window.scans.push(panel.dataset.scan))
    .observe(panel, { attributes: true, attributeFilter: ["data-scan"] });
}"""
DASH = "\u2013"  # between a hit's first and last line
CRUMB = " \u203a "  # between the headings above a hit


@dataclass
class Brain:
    agent: AgentProcess
    ollama: FakeOllamaProcess
    docs: Path
    root: Path

    def status(self) -> dict[str, Any]:
        response = call(self.agent, "GET", "/api/brain/status")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def settled(self) -> dict[str, Any] | None:
        status = self.status()
        return None if status["indexing"] or status["queue"] else status


@pytest.fixture(scope="module")
def brain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brain]:
    root = tmp_path_factory.mktemp("brain")
    docs = root / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(GUIDE)
    (docs / "recipes.md").write_text(RECIPES)
    (docs / HOSTILE).write_text(HOSTILE_TEXT)
    (docs / "blob.txt").write_bytes(b"\x00\x01 not text")
    fake = FakeOllama(models=[MODEL_A], reply_text=REPLY)
    env = {"OPENFABRIC_BRAIN_PATHS": str(docs)}
    with (
        fake_ollama_process(root / "ollama.json", fake) as ollama,
        agent_process(
            root / "a", "--node-name", "alpha", "--ollama-url", ollama.url, env=env
        ) as agent,
    ):
        found = Brain(agent, ollama, docs, root)
        wait_until(
            lambda: (s := found.settled()) and s["files"] == 3 and s["skipped"].get("binary"),
            INDEX_WAIT_S,
            "the first scan of the documents",
        )
        yield found


@pytest.fixture
def dash(browser: Any, brain: Brain) -> Iterator[Dash]:
    dash = open_dash(browser, brain.agent)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())


def source_row(dash: Dash, path: Path) -> Any:
    return dash.page.locator("li.brain-source").filter(
        has=dash.page.locator(".brain-source-path").get_by_text(str(path), exact=True)
    )


def counts_text(files: int, chunks: int) -> str:
    return f"{files} file{'' if files == 1 else 's'} · {chunks} chunk{'' if chunks == 1 else 's'}"


def status_loads(dash: Dash) -> list[Any]:
    return [r for r in dash.requests if r.url.endswith("/api/brain/status")]


def set_theme(dash: Dash, theme: str) -> None:
    button = dash.page.locator("#theme")
    for _ in range(3):
        if button.inner_text() == f"Theme: {theme}":
            break
        button.click()
    expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)


def test_page_shows_sources_and_counts(dash: Dash, brain: Brain) -> None:
    status = brain.status()
    page = dash.page
    dash.goto("/brain")
    expect(page.locator("#nav-list a[aria-current=page]")).to_have_text("Brain")
    (source,) = status["sources"]
    row = source_row(dash, brain.docs)
    expect(row).to_have_attribute("data-exists", "true")
    expect(row.locator(".badge")).to_have_text("present")
    expect(row.locator(".brain-source-counts")).to_have_text(
        counts_text(source["files"], source["chunks"])
    )
    counts = page.locator('[data-brain="counts"]')
    expect(counts.locator('[data-count="files"]')).to_have_text("3")
    expect(counts.locator('[data-count="chunks"]')).to_have_text(str(status["chunks"]))
    expect(counts.locator('[data-count="queue"]')).to_have_text("0")
    expect(counts.locator('[data-fact="model"]')).to_have_text(status["model"])
    expect(counts.locator('[data-fact="model_loaded"]')).to_have_text("yes")
    expect(counts.locator('[data-fact="dimensions"]')).to_have_text("384")
    expect(counts.locator('[data-fact="watching"]')).to_have_text("yes")
    expect(counts.locator('.brain-reasons li[data-reason="binary"] strong')).to_have_text("1")
    skipped = counts.locator('.brain-skipped li[data-reason="binary"]')
    expect(skipped.locator(".brain-path")).to_have_text(str(brain.docs / "blob.txt"))
    expect(skipped).to_contain_text("binary: ")
    for theme in ("light", "dark"):
        set_theme(dash, theme)
        dash.shot(f"brain-{theme}")


def test_search_shows_hits_with_path_and_lines(dash: Dash, brain: Brain) -> None:
    page = dash.page
    dash.goto("/brain")
    page.get_by_label("Search the documents").fill("quokka protocol joins")
    page.get_by_label("Mode").select_option("lexical")
    page.get_by_label("How many results").fill("3")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/brain\?q=quokka\+protocol\+joins&mode=lexical&k=3$"))
    params = {"q": "quokka protocol joins", "mode": "lexical", "k": 3}
    answer = call(brain.agent, "GET", "/api/brain/search", params=params).json()
    best = answer["hits"][0]
    assert best["path"] == str(brain.docs / "guide.md")
    assert best["end_line"] == best["start_line"] + 1  # the paragraph's two lines
    hit = page.locator("li.brain-hit").first
    expect(hit).to_have_attribute("data-path", best["path"])
    lines = f"{best['start_line']}{DASH}{best['end_line']}"
    expect(hit.locator(".brain-where")).to_have_text(f"{best['path']}:{lines}")
    expect(hit.locator(".brain-node")).to_have_text("alpha")
    expect(hit.locator(".brain-heading")).to_have_text(CRUMB.join(best["heading"]))
    expect(hit.locator(".brain-snippet")).to_contain_text("quokka")
    expect(hit.locator(".brain-score")).to_contain_text(re.compile(r"\d"))
    expect(page.locator(".brain-summary")).to_contain_text("1 node searched")

    # A file whose name and text look like markup stays text.
    page.get_by_label("Search the documents").fill("marmalade toast")
    page.get_by_role("button", name="Search", exact=True).click()
    hostile = page.locator("li.brain-hit").filter(has_text="marmalade toast").first
    expect(hostile.locator(".brain-where")).to_contain_text(HOSTILE)
    assert page.locator("#view img, #view script, #view b").count() == 0
    assert "pwned" not in page.title()


def test_adding_a_folder_indexes_it_and_follows_it_live(dash: Dash, brain: Brain) -> None:
    extra = brain.root / "extra"
    extra.mkdir()
    for i in range(BULK):
        (extra / f"tide-{i:02}.md").write_text(f"# Tide {i}\n\nHigh water {i} comes at noon.\n")
    page = dash.page
    dash.goto("/brain")
    expect(source_row(dash, brain.docs)).to_be_visible()
    page.evaluate(RECORD_SCANS)
    page.get_by_label("Folder to index").fill(str(extra))
    started = time.monotonic()
    loads = len(status_loads(dash))
    page.get_by_role("button", name="Add and index").click()
    expect(page.locator("[data-scan]")).to_have_attribute("data-scan", "done")
    row = source_row(dash, extra)
    expect(row.locator(".brain-source-counts")).to_have_text(
        re.compile(rf"^{BULK} files · [1-9]\d* chunks?$")
    )
    elapsed = time.monotonic() - started
    assert "running" in page.evaluate("() => window.scans")
    # However many brain.indexed events the scan sent, the status loads at most twice a second.
    assert len(status_loads(dash)) - loads <= 2 * elapsed + 2
    expect(page.get_by_label("Folder to index")).to_have_value("")
    expect(page.locator('[data-brain="counts"] [data-count="files"]')).to_have_text(str(3 + BULK))
    assert [s["path"] for s in brain.status()["sources"]] == [str(brain.docs), str(extra)]

    # A file written into the watched folder is indexed and shows without a reload.
    (extra / "moons.md").write_text("# Moons\n\nThe walrus moon rises late in winter.\n")
    expect(row.locator(".brain-source-counts")).to_have_text(re.compile(rf"^{BULK + 1} files · "))
    expect(page.locator('[data-brain="counts"] [data-count="files"]')).to_have_text(str(4 + BULK))
    assert page.evaluate("() => window.sameDocument") is True

    page.get_by_role("button", name=f"Stop indexing {extra}").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(row).to_have_count(0)
    expect(page.locator('[data-brain="counts"] [data-count="files"]')).to_have_text("3")
    assert [s["path"] for s in brain.status()["sources"]] == [str(brain.docs)]
    assert page.evaluate("() => window.sameDocument") is True


def test_reindex_progress_reaches_done(dash: Dash, brain: Brain) -> None:
    page = dash.page
    dash.goto("/brain")
    panel = page.locator("[data-scan]")
    expect(panel).to_have_attribute("data-scan", "idle")
    page.get_by_role("button", name="Reindex every source").click()
    expect(panel).to_have_attribute("data-scan", "done")
    expect(panel.locator(".brain-scan-state")).to_have_text(re.compile(r"^Done: 4 files in "))
    expect(panel.locator(".gauge-value")).to_have_text("4 of 4 files")
    expect(panel.locator('[data-fact="removed"]')).to_have_text("0")
    expect(panel.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(panel.locator('[data-fact="rate"]')).to_have_text(re.compile(r"^\d+\.\d chunks/s$"))
    expect(page.get_by_role("button", name="Reindex every source")).to_be_enabled()
    dash.shot("brain-reindexed")

    # A scan started elsewhere (the CLI, another tab) shows from the event stream.
    page.reload()
    expect(panel).to_have_attribute("data-scan", "idle")
    expect(source_row(dash, brain.docs)).to_be_visible()
    with httpx.stream(
        "POST",
        brain.agent.url + "/api/brain/reindex",
        json={},
        headers=brain.agent.headers(),
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert "event: done" in "".join(response.iter_text())
    expect(panel).to_have_attribute("data-scan", "done")
    expect(panel.locator(".gauge-value")).to_have_text("4 of 4 files")


def test_refusals_show_inline(dash: Dash, brain: Brain) -> None:
    dash.allow(r"HTTP 400: POST \S+/api/brain/reindex$")
    dash.allow(r"status of 400 .*\(\S+/api/brain/reindex\)$")
    page = dash.page
    dash.goto("/brain")
    expect(source_row(dash, brain.docs)).to_be_visible()
    problem = page.locator('[data-brain="sources"] .brain-error')
    missing = brain.root / "not-here"
    for path, code in ((str(missing), "SOURCE_NOT_FOUND"), ("relative/notes", "INVALID_PATH")):
        page.get_by_label("Folder to index").fill(path)
        page.get_by_role("button", name="Add and index").click()
        expect(problem).to_have_attribute("data-code", code)
        expect(problem).to_contain_text(f"({code})")
        expect(page.get_by_label("Folder to index")).to_have_value(path)
    expect(page.locator("li.brain-source")).to_have_count(1)
    assert [s["path"] for s in brain.status()["sources"]] == [str(brain.docs)]
    page.get_by_label("Folder to index").fill(str(brain.docs))
    page.get_by_role("button", name="Add and index").click()
    expect(problem).to_have_text(f"{brain.docs} is already a source.")


def test_chat_with_documents_shows_citations(dash: Dash, brain: Brain) -> None:
    session = call(brain.agent, "POST", "/api/llm/sessions", json={"title": "Docs"}).json()
    page = dash.page
    dash.goto(f"/chat/{session['session_id']}")
    page.get_by_label("Model", exact=True).select_option(MODEL_A)
    toggle = page.get_by_label("Use documents")
    toggle.check()
    page.get_by_label("Message", exact=True).fill("How does the quokka protocol join nodes?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator('.msg[data-role="assistant"]').last
    expect(answer.locator(".msg-text")).to_have_text(REPLY)
    first = answer.locator(".msg-sources li").first
    guide = str(brain.docs / "guide.md")
    expect(first).to_have_attribute("data-path", guide)
    expect(first.locator(".msg-source-n")).to_have_text("[1]")
    expect(first.locator(".msg-source-node")).to_have_text("alpha")
    expect(first.locator(".msg-source-where")).to_have_text(re.compile(rf"^{re.escape(guide)}:\d+"))
    expect(first.locator(".msg-source-score")).to_have_text(re.compile(r"^score -?\d"))

    sent = [r for r in dash.requests if r.method == "POST" and r.url.endswith("/api/llm/chat")]
    assert json.loads(sent[-1].post_data)["use_brain"] is True
    # The passage reached the model inside its prompt.
    prompt = brain.ollama.stats()["last_chat"]["messages"]
    assert any(JOINING in m["content"] for m in prompt), prompt
    dash.shot("brain-chat")
    page.set_viewport_size(PHONE)
    expect(first).to_be_visible()
    dash.no_horizontal_scroll()
    dash.shot("brain-chat-phone")
    # The choice is remembered.
    page.reload()
    expect(page.get_by_label("Use documents")).to_be_checked()


def test_members_not_searched_are_named(
    dash: Dash, brain: Brain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("bravo") / "b"
    with agent_process(home, "--node-name", "bravo") as bravo:
        assert join(bravo, brain.agent).status_code == 200, bravo.log()
        wait_until(lambda: online_count(brain.agent) == 2, 20, "bravo to be online")
        bravo_id = bravo.info["node_id"]

    def missing() -> str | None:
        params = {"q": "quokka", "mode": "lexical"}
        answer = call(brain.agent, "GET", "/api/brain/search", params=params).json()
        reasons = [m["reason"] for m in answer["not_searched"] if m["node_id"] == bravo_id]
        return reasons[0] if reasons and reasons[0] in {"suspect", "offline"} else None

    wait_until(missing, 30, "the stopped bravo to be left out of searches")
    page = dash.page
    dash.goto("/brain?q=quokka&mode=lexical")
    expect(page.get_by_label("Mode")).to_have_value("lexical")
    expect(page.locator("li.brain-hit").first).to_have_attribute(
        "data-path", str(brain.docs / "guide.md")
    )
    left_out = page.locator(f'.brain-not-searched li[data-node="{bravo_id}"]')
    expect(left_out).to_have_text(re.compile(r"^bravo: (suspect|offline)$"))
    expect(page.locator(".brain-summary")).to_contain_text("1 node searched")
    page.set_viewport_size(PHONE)
    expect(left_out).to_be_visible()
    dash.no_horizontal_scroll()
    dash.shot("brain-not-searched-phone")


def test_phone_width_without_horizontal_scroll(browser: Any, brain: Brain) -> None:
    phone = open_dash(browser, brain.agent, viewport=PHONE)
    try:
        phone.goto("/brain?q=quokka%20protocol")
        expect(phone.page.locator("li.brain-hit").first).to_be_visible()
        expect(source_row(phone, brain.docs)).to_be_visible()
        expect(phone.page.locator('[data-brain="counts"] [data-count="files"]')).to_have_text("3")
        phone.no_horizontal_scroll()
        phone.shot("brain-phone")
    finally:
        phone.page.context.close()
    assert not phone.unexpected(), "\n".join(phone.unexpected())
