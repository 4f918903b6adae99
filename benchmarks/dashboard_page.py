"""The browser side of dashboard.py: Chromium, sign-in, the in-page probes, CDP metrics.

Two kinds of page, each in its own browser context (so its own renderer process):

- the dashboard's Overview, signed in through the login link as `openfabric dashboard` opens
  it, with a MutationObserver that notes when a card's `[data-field="cpu"]` text changes;
- a bare page on the agent's origin (a blank document served by playwright's router, so it
  carries no dashboard code and no CSP) whose EventSource reads `/api/events?topics=
  node.heartbeat` and notes when each event arrives.

Both note times as `performance.timeOrigin + performance.now()` (ms). `clock_offset`
measures how far that is from this process's `time.time()` (minimum round trip of a few
evaluations), so page times can be put on the sender's clock.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright, ViewportSize

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000
BARE_PATH = "/__bench__/bare"
BARE_HTML = "<!doctype html><html lang=en><head><title>bare reader</title></head><body></body>"
# Main-thread durations (seconds) that Performance.getMetrics sums since the page started.
DURATIONS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")
CPU_TIMES = ("ThreadTime", "ProcessTime")

# Each observation is [node_id, text, page ms]. A card rebuilt with the same text is noted
# again; the reader keeps the first time each (node, text) appears after its send.
WATCH_CARDS = """() => {
  const seen = (window.__benchSeen = []);
  const clock = () => performance.timeOrigin + performance.now();
  const note = (field, t) => {
    const card = field.closest("[data-node-id]");
    if (card) seen.push([card.dataset.nodeId, field.textContent, t]);
  };
  new MutationObserver((records) => {
    const t = clock();
    const fields = new Set();
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const field = el && el.closest('[data-field="cpu"]');
      if (field) fields.add(field);
      for (const n of r.addedNodes) {
        if (n.nodeType !== 1) continue;
        if (n.matches('[data-field="cpu"]')) fields.add(n);
        for (const f of n.querySelectorAll('[data-field="cpu"]')) fields.add(f);
      }
    }
    for (const field of fields) note(field, t);
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""

READ_EVENTS = """(url) => {
  const seen = (window.__benchSeen = []);
  const source = new EventSource(url);
  source.addEventListener("node.heartbeat", (e) => {
    const t = performance.timeOrigin + performance.now();
    const d = JSON.parse(e.data);
    const p = d && d.telemetry && d.telemetry.cpu ? d.telemetry.cpu.percent : null;
    seen.push([d.node_id, typeof p === "number" ? `${p.toFixed(1)}%` : "", t]);
  });
  return new Promise((resolve, reject) => {
    source.onopen = () => resolve(true);
    source.onerror = () => reject(new Error("the event stream failed"));
  });
}"""

TAKE = "() => window.__benchSeen.splice(0)"
CLOCK = "() => performance.timeOrigin + performance.now()"
CARD_FIELDS = "document.querySelectorAll('[data-node-id] [data-field=\"cpu\"]').length"
CARDS = f"() => {CARD_FIELDS}"
CARDS_AT_LEAST = f"(n) => {CARD_FIELDS} >= n"


def launch(pw: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium not found (apt-get install -y chromium)")
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _signed_in(browser: Browser, url: str, token: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    answer = httpx.post(
        url + "/api/auth/login-code", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    answer.raise_for_status()
    page.goto(url + answer.json()["login_path"])
    page.wait_for_selector('#conn[data-state="live"]', state="attached")
    return context, page


def open_overview(browser: Browser, url: str, token: str, cards: int) -> tuple[Page, CDPSession]:
    """The Overview, once it shows `cards` cards (0: any), with the card watcher on."""
    context, page = _signed_in(browser, url, token)
    if cards:
        try:
            page.wait_for_function(CARDS_AT_LEAST, arg=cards, timeout=TIMEOUT_MS)
        except Exception as exc:
            found = page.evaluate(CARDS)
            raise RuntimeError(
                f"the Overview shows {found} of {cards} member cards with a "
                '[data-node-id] [data-field="cpu"] (is the real overview page in place?)'
            ) from exc
    page.evaluate(WATCH_CARDS)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
    return page, cdp


def open_bare(browser: Browser, url: str, token: str) -> Page:
    """A blank page on the agent's origin, signed in, reading node.heartbeat events."""
    context, page = _signed_in(browser, url, token)
    context.route(
        url + BARE_PATH,
        lambda route: route.fulfill(status=200, content_type="text/html", body=BARE_HTML),
    )
    page.goto(url + BARE_PATH)
    page.evaluate(READ_EVENTS, "/api/events?topics=node.heartbeat")
    return page


def close(page: Page) -> None:
    page.context.close()


def metrics(cdp: CDPSession) -> dict[str, float]:
    answer = cdp.send("Performance.getMetrics")
    return {m["name"]: float(m["value"]) for m in answer["metrics"]}


def busy_shares(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """% of one core over the window, per duration and CPU-time metric."""
    wall = after["Timestamp"] - before["Timestamp"]
    return {
        name: round(100 * (after[name] - before[name]) / wall, 3)
        for name in (*DURATIONS, *CPU_TIMES)
        if name in before and name in after
    } | {"window_s": round(wall, 3)}


def take(page: Page) -> list[tuple[str, str, float]]:
    return [(str(n), str(text), float(t)) for n, text, t in page.evaluate(TAKE)]


@dataclass
class ClockOffset:
    offset_ms: float  # page clock minus time.time(), ms
    rtt_ms: float  # the round trip it was measured in


def clock_offset(page: Page, rounds: int = 15) -> ClockOffset:
    best = ClockOffset(0.0, float("inf"))
    for _ in range(rounds):
        before = time.time()
        page_ms = float(page.evaluate(CLOCK))
        after = time.time()
        rtt = (after - before) * 1000
        if rtt < best.rtt_ms:
            best = ClockOffset(round(page_ms - (before + after) * 500, 3), round(rtt, 3))
    return best


def as_dict(offset: ClockOffset) -> dict[str, Any]:
    return {"offset_ms": offset.offset_ms, "rtt_ms": offset.rtt_ms}
