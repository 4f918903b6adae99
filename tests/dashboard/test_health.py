"""The Health & metrics page against real agents: every check of /api/health with its state,
metric charts that have points and gain more with each reading, phone width, both themes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, Fabric, expect, open_dash

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Readings come every 5 s and a rate needs two of them.
READINGS_MS = 20_000
POINTS = "() => [...document.querySelectorAll('[data-metric]')].map(c => Number(c.dataset.points))"
# Every chart, and at least one: an empty list would pass any `every`.
ALL_AT_LEAST = f"n => ({POINTS})().length > 0 && ({POINTS})().every(p => p >= n)"


def test_every_check_appears_with_its_state(dash: Dash, fabric: Fabric) -> None:
    report = fabric.call("GET", "/api/health")
    assert report["checks"]
    page = dash.page
    dash.goto("/health")
    expect(page.get_by_text("updated every 5 s").first).to_be_visible()
    expect(page.locator("tr[data-check]")).to_have_count(len(report["checks"]))
    for check in report["checks"]:
        row = page.locator(f'tr[data-check="{check["name"]}"]')
        expect(row).to_have_attribute("data-status", check["status"])
        expect(row.locator(".badge")).to_have_text(check["status"])
        expect(row).to_contain_text(check["name"].replace("_", " "), ignore_case=True)
    expect(page.locator("[data-overall]")).to_have_text(report["status"])
    expect(page.locator("[data-updated]")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))


def test_metric_charts_have_points_and_gain_more(dash: Dash, fabric: Fabric) -> None:
    families = {f["name"] for f in fabric.call("GET", "/api/metrics")["metrics"]}
    assert {"openfabric_http_requests", "openfabric_sse_subscribers"} <= families
    page = dash.page
    dash.goto("/health")
    charts = page.locator("[data-metric]")
    for metric in ("http-requests", "http-errors", "sse-subscribers", "events-published"):
        expect(page.locator(f'[data-metric="{metric}"]')).to_have_count(1)
    # This page's own event stream is a subscriber, so the gauge reads at least 1.
    subscribers = page.locator('.metric-card:has([data-metric="sse-subscribers"]) .metric-value')
    expect(subscribers).to_have_text(re.compile(r"^[1-9]\d*$"))
    page.wait_for_function(ALL_AT_LEAST, arg=1, timeout=READINGS_MS)
    before = page.evaluate(POINTS)
    assert len(before) == charts.count() >= 8
    page.wait_for_function(
        f"before => ({POINTS})().every((n, i) => n > before[i])", arg=before, timeout=READINGS_MS
    )
    for chart in charts.all():
        expect(chart.locator("canvas").first).to_be_attached()
    requests = page.locator('.metric-card:has([data-metric="http-requests"]) .metric-value')
    expect(requests).to_have_text(re.compile(r"^\d+(\.\d+)?/s$"))


def test_phone_width_and_screenshots(browser: Any, dash: Dash, fabric: Fabric) -> None:
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        phone.goto("/health")
        expect(phone.page.locator("tr[data-check]").first).to_be_visible()
        phone.page.wait_for_function(ALL_AT_LEAST, arg=2, timeout=READINGS_MS)
        phone.no_horizontal_scroll()
        phone.shot("health-phone")
    finally:
        phone.page.context.close()
    assert not phone.unexpected(), "\n".join(phone.unexpected())

    dash.goto("/health")
    dash.page.wait_for_function(ALL_AT_LEAST, arg=2, timeout=READINGS_MS)
    for theme in ("light", "dark"):
        dash.page.locator("#theme").click()
        expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)
        dash.shot(f"health-{theme}")
