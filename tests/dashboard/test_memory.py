"""The Memory page and the chat's "Use memory" in a real Chromium against a real agent with
the real embedding model: a fact added in the page and listed (and the same fact again,
answered as existing), a key superseding a fact with the history shown as a chain, search
with scores, forgetting one fact and every fact (each confirmed first), facts added and
removed elsewhere followed live, stored markup shown as text, a chat whose prompt carries a
remembered fact, a fact the model named after a chat listed with its session, and the
phone width."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dashboard.conftest import MODEL_A, PHONE, Dash, expect, open_dash
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import AgentProcess, agent_process, call, wait_until

MODEL_LOAD_S = 120.0

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPLY = "You told me you keep the spare key under the blue pot."
HOSTILE = "<img src=x onerror=\"document.title='pwned'\"> <b>bold</b> claim"


@dataclass
class Memory:
    agent: AgentProcess
    ollama: FakeOllamaProcess

    def facts(self, history: bool = True) -> list[dict[str, Any]]:
        params = {"include_superseded": "true"} if history else {}
        response = call(self.agent, "GET", "/api/memory", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["facts"]
        return found

    def add(self, text: str, **extra: Any) -> dict[str, Any]:
        response = call(self.agent, "POST", "/api/memory", json={"text": text, **extra})
        assert response.status_code in (200, 201), response.text
        fact: dict[str, Any] = response.json()["fact"]
        return fact


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Memory]:
    root = tmp_path_factory.mktemp("memory")
    fake = FakeOllama(models=[MODEL_A], reply_text=REPLY)
    with (
        fake_ollama_process(root / "ollama.json", fake) as ollama,
        agent_process(root / "a", "--node-name", "alpha", "--ollama-url", ollama.url) as agent,
    ):
        # The first search loads the embedding model (seconds, more on a busy machine): done
        # here, so the page's first add is not what waits for it.
        warm = call(agent, "GET", "/api/memory/search", params={"q": "warm"}, timeout=MODEL_LOAD_S)
        assert warm.status_code == 200, warm.text
        yield Memory(agent, ollama)


@pytest.fixture
def dash(browser: Any, memory: Memory) -> Iterator[Dash]:
    dash = open_dash(browser, memory.agent)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())


def fact_row(dash: Dash, text: str) -> Any:
    return dash.page.locator("li.memory-fact").filter(
        has=dash.page.locator(".memory-fact-head .memory-text").get_by_text(text, exact=True)
    )


def add_in_page(dash: Dash, text: str, key: str = "", tags: str = "") -> Any:
    page = dash.page
    page.get_by_label("Fact", exact=True).fill(text)
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Tags", exact=True).fill(tags)
    page.get_by_role("button", name="Remember").click()
    return page.locator(".memory-outcome")


def set_theme(dash: Dash, theme: str) -> None:
    button = dash.page.locator("#theme")
    for _ in range(3):
        if button.inner_text() == f"Theme: {theme}":
            break
        button.click()
    expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)


def test_a_fact_added_in_the_page_is_listed(dash: Dash, memory: Memory) -> None:
    page = dash.page
    dash.goto("/memory")
    expect(page.locator("#nav-list a[aria-current=page]")).to_have_text("Memory")
    text = "The spare key is under the blue pot"
    outcome = add_in_page(dash, text, key="house.spare-key", tags="home, keys")
    expect(outcome).to_have_attribute("data-outcome", "created")
    expect(outcome).to_have_text("Remembered as a new fact.")
    expect(page.get_by_label("Fact", exact=True)).to_have_value("")
    row = fact_row(dash, text)
    expect(row).to_have_count(1)
    (stored,) = [f for f in memory.facts() if f["text"] == text]
    expect(row).to_have_attribute("data-id", stored["id"])
    expect(row.locator(".memory-key")).to_have_text("house.spare-key")
    expect(row.locator(".memory-tag")).to_have_text(["home", "keys"])
    assert stored["tags"] == ["home", "keys"]
    expect(row.locator(".memory-source")).to_have_text("added by hand")
    expect(row.locator(".memory-node")).to_have_text("alpha")
    expect(row.locator(".memory-age")).to_have_text(re.compile(r"^(just now|\d+s ago)$"))

    # The same fact again changes nothing, and says so.
    outcome = add_in_page(dash, "the spare key is under the blue pot.", key="house.spare-key")
    expect(outcome).to_have_attribute("data-outcome", "existing")
    expect(outcome).to_have_text("Already remembered: nothing changed.")
    expect(row).to_have_count(1)
    assert [f["id"] for f in memory.facts() if "spare key" in f["text"]] == [stored["id"]]
    for theme in ("light", "dark"):
        set_theme(dash, theme)
        dash.shot(f"memory-{theme}")


def test_a_key_supersedes_and_the_history_shows_the_chain(dash: Dash, memory: Memory) -> None:
    page = dash.page
    dash.goto("/memory")
    first = "The printer is in the study"
    outcome = add_in_page(dash, first, key="house.printer")
    expect(outcome).to_have_attribute("data-outcome", "created")
    expect(fact_row(dash, first)).to_have_count(1)
    second = "The printer moved to the hallway"
    outcome = add_in_page(dash, second, key="house.printer")
    expect(outcome).to_have_attribute("data-outcome", "superseded")
    expect(outcome).to_have_text("Remembered. It replaces 1 older fact, kept in the history.")
    expect(fact_row(dash, first)).to_have_count(0)
    third = "The printer is back in the study, by the window"
    add_in_page(dash, third, key="house.printer")
    expect(outcome).to_have_attribute("data-outcome", "superseded")
    current = fact_row(dash, third)
    expect(current).to_have_count(1)
    expect(current.locator(".memory-chain")).to_have_count(0)

    page.get_by_label("Show history").check()
    chain = current.locator(".memory-chain li.memory-old")
    expect(chain).to_have_count(2)
    # Newest first: each names the fact that replaced it.
    expect(chain.nth(0).locator(".memory-text")).to_have_text(second)
    expect(chain.nth(0).locator(".memory-replaced")).to_contain_text(f"by “{third}”")
    expect(chain.nth(1).locator(".memory-text")).to_have_text(first)
    expect(chain.nth(1).locator(".memory-replaced")).to_contain_text(f"by “{second}”")
    history = {f["text"]: f for f in memory.facts()}
    expect(chain.nth(1)).to_have_attribute("data-id", history[first]["id"])
    assert history[first]["superseded_by"] == history[second]["id"]
    assert history[second]["superseded_by"] == history[third]["id"]
    expect(page.locator(".memory-count")).to_contain_text("in history")
    page.get_by_label("Show history").uncheck()
    expect(current.locator(".memory-chain")).to_have_count(0)


def test_search_shows_facts_with_scores(dash: Dash, memory: Memory) -> None:
    wanted = memory.add("Our dog Pepper is scared of thunderstorms")
    memory.add("The gutters were cleaned in November")
    page = dash.page
    dash.goto("/memory")
    page.get_by_label("Search by meaning").fill("which pet fears storms")
    page.get_by_label("How many facts").fill("2")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/memory\?q=which\+pet\+fears\+storms&k=2$"))
    hits = page.locator("li.memory-hit")
    expect(hits.first).to_have_attribute("data-id", wanted["id"])
    expect(hits.first.locator(".memory-text")).to_have_text(wanted["text"])
    expect(hits.first.locator(".memory-score")).to_have_text(re.compile(r"Score 0\.\d+$"))
    assert hits.count() <= 2
    expect(page.locator(".memory-summary")).to_contain_text("for “which pet fears storms”")
    # A deep link runs its search.
    dash.goto("/memory?q=thunder%20dog")
    expect(page.locator("li.memory-hit").first).to_have_attribute("data-id", wanted["id"])


def test_forget_asks_first(dash: Dash, memory: Memory) -> None:
    fact = memory.add("The garage code is written in the red notebook")
    page = dash.page
    dash.goto("/memory")
    row = fact_row(dash, fact["text"])
    row.get_by_role("button", name=re.compile(r"^Forget: ")).click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert fact["id"] in {f["id"] for f in memory.facts()}
    row.get_by_role("button", name=re.compile(r"^Forget: ")).click()
    page.get_by_role("dialog").get_by_role("button", name="Forget", exact=True).click()
    expect(row).to_have_count(0)
    assert fact["id"] not in {f["id"] for f in memory.facts()}


def test_changes_elsewhere_show_live_and_markup_stays_text(dash: Dash, memory: Memory) -> None:
    page = dash.page
    dash.goto("/memory")
    expect(page.locator("[data-memory=facts] .memory-count")).not_to_be_empty()
    page.evaluate("() => { window.sameDocument = true; }")
    fact = memory.add(HOSTILE, tags=["<script>x</script>"])
    row = fact_row(dash, HOSTILE)
    expect(row).to_have_count(1)
    expect(row.locator(".memory-tag")).to_have_text("<script>x</script>")
    assert page.locator("#view img, #view b, #view script").count() == 0
    assert "pwned" not in page.title()
    response = call(memory.agent, "DELETE", f"/api/memory/{fact['id']}")
    assert response.status_code == 200, response.text
    expect(row).to_have_count(0)
    assert page.evaluate("() => window.sameDocument") is True


def test_chat_with_memory_gives_the_model_the_fact(dash: Dash, memory: Memory) -> None:
    fact = memory.add("The user's bicycle is a green Brompton", key="user.bicycle")
    session = call(memory.agent, "POST", "/api/llm/sessions", json={"title": "Bike"}).json()
    page = dash.page
    dash.goto(f"/chat/{session['session_id']}")
    page.get_by_label("Model", exact=True).select_option(MODEL_A)
    page.get_by_label("Use memory").check()
    page.get_by_label("Message", exact=True).fill("What colour is my bicycle?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator('.msg[data-role="assistant"]').last
    expect(answer.locator(".msg-text")).to_have_text(REPLY)
    sent = [r for r in dash.requests if r.method == "POST" and r.url.endswith("/api/llm/chat")]
    body = json.loads(sent[-1].post_data)
    assert body["use_memory"] is True
    assert "use_brain" not in body
    # The answer's prompt carried the fact (and so does the extraction after it, if it ran).
    prompt = memory.ollama.stats()["last_chat"]["messages"]
    assert any(fact["text"] in m["content"] for m in prompt), prompt
    page.set_viewport_size(PHONE)
    dash.no_horizontal_scroll()
    dash.shot("memory-chat-phone")
    page.reload()
    expect(page.get_by_label("Use memory")).to_be_checked()


def test_a_fact_learnt_in_a_chat_shows_its_session(dash: Dash, memory: Memory) -> None:
    learnt = "The user's favourite tea is rooibos"
    extraction = json.dumps({"facts": [{"text": learnt, "key": "user.tea"}]})
    session = call(memory.agent, "POST", "/api/llm/sessions", json={"title": "Tea"}).json()
    page = dash.page
    dash.goto(f"/chat/{session['session_id']}")
    # The double answers everything with the extraction's JSON, the answer included.
    memory.ollama.configure(reply_text=extraction)
    try:
        page.get_by_label("Model", exact=True).select_option(MODEL_A)
        page.get_by_label("Use memory").check()
        page.get_by_label("Message", exact=True).fill("I drink rooibos every morning.")
        page.get_by_role("button", name="Send").click()
        answer = page.locator('.msg[data-role="assistant"]').last
        expect(answer.locator(".msg-text")).to_have_text(extraction)
        page.locator("#nav-list").get_by_role("link", name="Memory").click()
        row = fact_row(dash, learnt)
        expect(row).to_have_count(1)
    finally:
        memory.ollama.configure(reply_text=REPLY)
    short = session["session_id"][:8]
    expect(row.locator(".memory-source")).to_have_text(f"learnt in a chat (session {short})")
    expect(row.locator(".memory-key")).to_have_text("user.tea")
    (stored,) = [f for f in memory.facts() if f["text"] == learnt]
    assert (stored["source"], stored["session_id"]) == ("chat", session["session_id"])


def test_phone_width_without_horizontal_scroll(browser: Any, memory: Memory) -> None:
    key = "test.long." + "k" * 60
    memory.add("An-older-very-long-unbroken-fact-" * 12, key=key, tags=["t" * 60])
    memory.add("A-very-long-unbroken-fact-" * 12, key=key, tags=["t" * 60])
    phone = open_dash(browser, memory.agent, viewport=PHONE)
    try:
        phone.goto("/memory?q=long%20fact")
        expect(phone.page.locator("li.memory-hit").first).to_be_visible()
        phone.page.get_by_label("Show history").check()
        expect(phone.page.locator("li.memory-old").first).to_be_visible()
        phone.no_horizontal_scroll()
        phone.shot("memory-phone")
    finally:
        phone.page.context.close()
    assert not phone.unexpected(), "\n".join(phone.unexpected())


def test_clear_everything_asks_first(dash: Dash, memory: Memory) -> None:
    memory.add("The smoke alarm battery was changed in March")
    page = dash.page
    dash.goto("/memory")
    expect(page.locator("li.memory-fact").first).to_be_visible()
    page.get_by_role("button", name="Forget everything").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert memory.facts() != []
    page.get_by_role("button", name="Forget everything").click()
    page.get_by_role("dialog").get_by_role("button", name="Forget everything").click()
    expect(page.locator("li.memory-fact")).to_have_count(0)
    expect(page.locator("[data-memory=facts] .empty")).to_be_visible()
    wait_until(lambda: memory.facts() == [], 10, "every fact to be gone")
    expect(page.locator(".toast")).to_contain_text(re.compile(r"^Forgot \d+ facts\."))
