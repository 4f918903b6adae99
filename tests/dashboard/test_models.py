"""The Models & chat page against two real agents and their Ollama doubles: the cluster's
models with holders and the planner's verdict, a pull with live progress, deleting a model,
and chat sessions with a streamed answer (held at the double's gate so the stream is seen
mid-way), stopping an answer, phone width and both themes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.conftest import MODEL_A, MODEL_B, PHONE, REPLY, Dash, Fabric, expect, open_dash
from tests.harness import call, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PULLED = "llama3.1:8b"  # in the doubles' registry, on neither node at the start
SESSION_URL = re.compile(r"/chat/(s[0-9a-f]+)$")
STATS = re.compile(r"^bravo · \d+\.\d tokens/s · \d+ tokens?$")


def catalog(fabric: Fabric) -> dict[str, Any]:
    return {m["name"]: m for m in fabric.call("GET", "/api/llm/models")["models"]}


def holders(fabric: Fabric) -> dict[str, list[str]]:
    return {name: sorted(n["name"] for n in m["nodes"]) for name, m in catalog(fabric).items()}


def both_listed(fabric: Fabric) -> None:
    """Members' models travel in heartbeats: wait until A's catalog has B's model too."""
    wait_until(lambda: MODEL_B in holders(fabric), 20, "bravo's model in alpha's catalog")


VERDICT = re.compile(r"^(fits on |split over |infeasible: |cannot be sized: )")


def same_verdict(shown: str, plan: dict[str, Any]) -> bool:
    """Whether the page's sentence says what the API's plan says. Both nodes share this
    machine's memory, so the order of equally good nodes may differ between two samples."""
    if plan["verdict"] == "single_node":
        names = {f["name"] for f in plan["fits_on"]}
        return shown.startswith("fits on ") and set(shown[8:].split(" or ")) == names
    if plan["verdict"] == "split":
        names = {s["name"] for s in plan["shards"]}
        return shown.startswith("split over ") and set(shown[11:].split(" + ")) == names
    if plan["verdict"] == "infeasible":
        return shown.startswith("infeasible: ")
    return shown == f"cannot be sized: {plan['reason']}"


def new_session(fabric: Fabric, title: str, *, answered: bool) -> str:
    session_id = str(fabric.call("POST", "/api/llm/sessions", json={"title": title})["session_id"])
    if answered:
        body = {"model": MODEL_B, "session_id": session_id, "message": "Hello", "stream": False}
        fabric.call("POST", "/api/llm/chat", json=body)
    return session_id


def set_theme(dash: Dash, theme: str) -> None:
    """Clicks the theme switch (auto -> light -> dark) until it says `theme`."""
    button = dash.page.locator("#theme")
    for _ in range(3):
        if button.inner_text() == f"Theme: {theme}":
            break
        button.click()
    expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)


def test_models_listed_with_holders_and_verdicts(dash: Dash, fabric: Fabric) -> None:
    both_listed(fabric)
    dash.goto("/models")
    page = dash.page
    expect(page.locator(".models-tabs [aria-current=page]")).to_have_text("Models")
    for name, holder in ((MODEL_A, "alpha"), (MODEL_B, "bravo")):
        row = page.locator(f'tr[data-model="{name}"]')
        expect(row.locator(".holders")).to_have_text(holder)
        expect(row.locator(".verdict")).to_have_text(VERDICT)
        shown = row.locator(".verdict").inner_text()
        assert same_verdict(shown, catalog(fabric)[name]["plan"]), shown
    # Delete acts on this node's Ollama only, so only what alpha holds offers it.
    expect(page.locator(f'tr[data-model="{MODEL_A}"]').get_by_role("button")).to_have_text(
        "Delete from alpha"
    )
    expect(page.locator(f'tr[data-model="{MODEL_B}"]').get_by_role("button")).to_have_count(0)
    for agent, name in ((fabric.a, "alpha"), (fabric.b, "bravo")):
        card = page.locator(f'.ollama-node[data-node="{agent.info["node_id"]}"]')
        expect(card).to_contain_text(name)
        expect(card.locator(".ollama-state .badge")).to_have_attribute("data-state", "up")
        expect(card).to_contain_text("0.6.5")
    set_theme(dash, "light")
    dash.shot("models-light")
    set_theme(dash, "dark")
    dash.shot("models-dark")


def test_pull_onto_bravo_shows_progress(dash: Dash, fabric: Fabric) -> None:
    both_listed(fabric)
    assert PULLED not in holders(fabric)
    dash.goto("/models")
    page = dash.page
    bravo = fabric.b.info["node_id"]
    page.get_by_label("Model name").fill(PULLED)
    pick = page.get_by_label("Pull onto")
    expect(pick.locator(f'option[value="{bravo}"]')).to_be_enabled()
    pick.select_option(bravo)
    progress = page.locator('[data-pull="progress"]')
    # Bravo's double holds the pull after its first layer report, so progress is seen mid-way.
    fabric.ollama_b.hold(pulls=True)
    try:
        page.get_by_role("button", name="Pull", exact=True).click()
        expect(progress.locator(".pull-status")).to_contain_text("pulling")
        expect(progress.locator(".pull-bytes")).to_have_text(re.compile(r"^0 B / \d+(\.\d)? GiB$"))
        expect(page.get_by_role("button", name="Cancel pull")).to_be_visible()
    finally:
        fabric.ollama_b.release()
    expect(progress.locator(".pull-status")).to_have_text(f"Pulled {PULLED} onto bravo.")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(f'tr[data-model="{PULLED}"] .holders')).to_have_text("bravo")
    assert holders(fabric)[PULLED] == ["bravo"]


def test_pull_error_shows_the_api_message(dash: Dash, fabric: Fabric) -> None:
    dash.goto("/models")
    page = dash.page
    page.get_by_label("Model name").fill("no-such-model:1b")
    page.get_by_label("Pull onto").select_option(fabric.b.info["node_id"])
    page.get_by_role("button", name="Pull", exact=True).click()
    expect(page.locator(".pull-error")).to_contain_text("file does not exist")
    expect(page.locator(".pull-status")).to_have_text("The pull of no-such-model:1b failed.")


def test_chat_session_streams_an_answer(dash: Dash, fabric: Fabric) -> None:
    both_listed(fabric)
    page = dash.page
    dash.goto("/chat")
    page.get_by_role("button", name="New chat", exact=True).click()
    expect(page).to_have_url(SESSION_URL)
    found = SESSION_URL.search(page.url)
    assert found
    session_id = found.group(1)

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Chat title").fill("Fabric test")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#chat-title")).to_have_text("Fabric test")
    current = page.locator(".chat-sessions a[aria-current=page]")
    expect(current.locator(".chat-session-title")).to_have_text("Fabric test")
    assert fabric.call("GET", f"/api/llm/sessions/{session_id}")["title"] == "Fabric test"

    page.get_by_label("Model", exact=True).select_option(MODEL_B)
    box = page.get_by_label("Message", exact=True)
    box.fill("Hello")
    box.press("Shift+Enter")
    box.press_sequentially("fabric")
    expect(box).to_have_value("Hello\nfabric")
    answer = page.locator('.msg[data-role="assistant"]').last
    # Bravo's double holds the answer after its first token, so the stream is seen mid-way.
    fabric.ollama_b.hold()
    try:
        box.press("Enter")
        expect(answer.locator(".msg-text")).to_have_text("The")
        expect(answer).to_have_attribute("data-streaming", "true")
        expect(answer.locator(".msg-meta")).to_have_text("bravo is answering…")
        expect(page.get_by_role("button", name="Stop")).to_be_visible()
    finally:
        fabric.ollama_b.release()
    expect(answer.locator(".msg-text")).to_have_text(REPLY)
    expect(answer.locator(".msg-meta")).to_have_text(STATS)
    expect(answer).to_have_attribute("data-node", fabric.b.info["node_id"])
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()

    stored = fabric.call("GET", f"/api/llm/sessions/{session_id}")["messages"]
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Hello\nfabric"),
        ("assistant", REPLY),
    ]
    assert stored[1]["stats"]["node_id"] == fabric.b.info["node_id"]
    page.reload()
    expect(page.locator(".msg")).to_have_count(2)
    expect(answer.locator(".msg-text")).to_have_text(REPLY)
    expect(answer.locator(".msg-meta")).to_have_text(STATS)

    page.get_by_role("button", name="Delete chat").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete chat").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    expect(page.locator(f'.chat-sessions [data-session="{session_id}"]')).to_have_count(0)
    listed = fabric.call("GET", "/api/llm/sessions")["sessions"]
    assert session_id not in [s["session_id"] for s in listed]


def test_changes_from_another_client_show_live(dash: Dash, fabric: Fabric) -> None:
    """Sessions changed through the API (another tab, the CLI) follow on the open page."""
    page = dash.page
    session_id = new_session(fabric, "Elsewhere", answered=False)
    dash.goto(f"/chat/{session_id}")
    expect(page.locator(".chat-title")).to_have_text("Elsewhere")

    other = new_session(fabric, "Started elsewhere", answered=False)
    expect(page.locator(f'.chat-sessions [data-session="{other}"]')).to_contain_text(
        "Started elsewhere"
    )
    fabric.call("PUT", f"/api/llm/sessions/{session_id}/title", json={"title": "Renamed there"})
    expect(page.locator(".chat-title")).to_have_text("Renamed there")
    body = {"model": MODEL_B, "session_id": session_id, "message": "From the CLI", "stream": False}
    fabric.call("POST", "/api/llm/chat", json=body)
    expect(page.locator('.msg[data-role="user"]')).to_contain_text(["From the CLI"])
    expect(page.locator('.msg[data-role="assistant"]').last).to_contain_text(REPLY)

    fabric.call("DELETE", f"/api/llm/sessions/{other}")
    expect(page.locator(f'.chat-sessions [data-session="{other}"]')).to_have_count(0)
    fabric.call("DELETE", f"/api/llm/sessions/{session_id}")
    expect(page.get_by_text("This chat no longer exists")).to_be_visible()


def test_stop_keeps_the_partial_answer(dash: Dash, fabric: Fabric) -> None:
    both_listed(fabric)
    session_id = new_session(fabric, "Stopped", answered=False)
    page = dash.page
    dash.goto(f"/chat/{session_id}")
    page.get_by_label("Model", exact=True).select_option(MODEL_B)
    answer = page.locator('.msg[data-role="assistant"]').last
    fabric.ollama_b.hold()
    try:
        page.get_by_label("Message", exact=True).fill("Say a lot")
        page.get_by_role("button", name="Send").click()
        expect(answer.locator(".msg-text")).to_have_text("The")
        page.get_by_role("button", name="Stop").click()
        expect(answer.locator(".msg-meta")).to_have_text("bravo · stopped")
    finally:
        fabric.ollama_b.release()

    def kept() -> Any:
        messages = fabric.call("GET", f"/api/llm/sessions/{session_id}")["messages"]
        return len(messages) == 2 and messages[1]

    partial = wait_until(kept, 15, "the stopped answer to be stored")
    assert partial["content"] == "The"
    assert partial["stats"]["partial"] is True
    fabric.call("DELETE", f"/api/llm/sessions/{session_id}")


def test_chat_errors_show_in_the_conversation(dash: Dash, fabric: Fabric) -> None:
    both_listed(fabric)
    session_id = new_session(fabric, "Errors", answered=False)
    page = dash.page
    dash.goto(f"/chat/{session_id}")
    page.get_by_label("Model", exact=True).select_option(MODEL_B)
    box = page.get_by_label("Message", exact=True)
    answer = page.locator('.msg[data-role="assistant"]').last

    # Mid-answer: the stream's `error` event, after two tokens.
    fabric.ollama_b.fail_next(
        500, "the runner ran out of memory", endpoint="/api/chat", mid_stream_after=2
    )
    box.fill("First")
    box.press("Enter")
    expect(answer.locator(".msg-error")).to_contain_text("the runner ran out of memory")
    expect(answer.locator(".msg-text")).to_have_text("The fabric")
    expect(answer.locator(".msg-meta")).to_have_text("bravo did not finish")

    # Before any token: the agent answers 503 and no stream begins.
    dash.allow(r"503")
    fabric.ollama_b.fail_next(500, "the runner crashed", endpoint="/api/chat")
    box.fill("Second")
    box.press("Enter")
    expect(page.locator(".msg")).to_have_count(4)
    expect(answer.locator(".msg-error")).to_contain_text("the runner crashed")
    expect(answer.locator(".msg-meta")).to_have_text("No answer")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    fabric.call("DELETE", f"/api/llm/sessions/{session_id}")


def test_chat_in_both_themes(dash: Dash, fabric: Fabric) -> None:
    both_listed(fabric)
    session_id = new_session(fabric, "Themes", answered=True)
    dash.goto(f"/chat/{session_id}")
    expect(dash.page.locator(".models-tabs [aria-current=page]")).to_have_text("Chat")
    expect(dash.page.locator('.msg[data-role="assistant"] .msg-text')).to_have_text(REPLY)
    set_theme(dash, "light")
    dash.shot("chat-light")
    set_theme(dash, "dark")
    dash.shot("chat-dark")
    fabric.call("DELETE", f"/api/llm/sessions/{session_id}")


def test_phone_width_has_no_horizontal_scroll(browser: Any, fabric: Fabric) -> None:
    both_listed(fabric)
    session_id = new_session(
        fabric, "A rather long title for a chat seen on a phone", answered=True
    )
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        phone.goto("/models")
        expect(phone.page.locator(f'tr[data-model="{MODEL_B}"]')).to_be_visible()
        phone.no_horizontal_scroll()
        phone.goto(f"/chat/{session_id}")
        expect(phone.page.locator('.msg[data-role="assistant"]')).to_be_visible()
        phone.no_horizontal_scroll()
        # Stacked: the sessions list sits above the conversation.
        side = phone.page.locator(".chat-side").bounding_box()
        main = phone.page.locator(".chat-main").bounding_box()
        assert side
        assert main
        assert side["y"] + side["height"] <= main["y"]
        phone.shot("chat-phone")
        assert not phone.unexpected(), "\n".join(phone.unexpected())
    finally:
        phone.page.context.close()
    fabric.call("DELETE", f"/api/llm/sessions/{session_id}")


def test_delete_a_model_from_alpha(dash: Dash, fabric: Fabric) -> None:
    assert "alpha" in holders(fabric)[MODEL_A]
    dash.goto("/models")
    page = dash.page
    row = page.locator(f'tr[data-model="{MODEL_A}"]')
    row.get_by_role("button", name="Delete from alpha").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"removes {MODEL_A} from alpha's Ollama")
    dialog.get_by_role("button", name="Delete from alpha").click()
    expect(row).to_have_count(0)
    assert MODEL_A not in holders(fabric)
    assert MODEL_A not in fabric.ollama_a.stats()["models"]
    assert call(fabric.a, "GET", "/api/llm/status").json()["models"] == []
