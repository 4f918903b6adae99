"""The pieces every action leans on: where a foreign flow's request may go, and outputs
bounded as JSON however the text is made."""

from __future__ import annotations

import ipaddress
import json

import httpx
import pytest

from agent.flows.actions.base import StepFailed
from agent.flows.actions.bounds import encoded_size, head_fitting, tail_fitting
from agent.flows.actions.http_guard import forbidden, redirect_allowed


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.1",
        "::1",
        "::ffff:127.0.0.1",
        "169.254.169.254",
        "fe80::1",
        "0.0.0.0",
        "::",
        "0.1.2.3",
    ],
)
def test_loopback_link_local_and_unspecified_are_forbidden(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["192.168.1.10", "10.0.0.1", "8.8.8.8", "2001:db8::1"])
def test_other_addresses_are_not(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address)) is None


def test_redirects_keep_to_http_and_never_downgrade() -> None:
    redirect_allowed(httpx.URL("http://a/"), httpx.URL("https://b/"))
    redirect_allowed(httpx.URL("https://a/"), httpx.URL("https://b/"))
    for source, target in (("https://a/", "http://b/"), ("http://a/", "file:///etc/passwd")):
        with pytest.raises(StepFailed):
            redirect_allowed(httpx.URL(source), httpx.URL(target))


@pytest.mark.parametrize("text", ["plain " * 1000, "é" * 5000, "\n\x00" * 3000, "🙂" * 2000])
def test_text_is_cut_to_fit_its_json_budget(text: str) -> None:
    for cut in (head_fitting(text, 1000), tail_fitting(text, 1000)):
        assert encoded_size(cut) <= 1000
        assert len(json.dumps(cut + text[:8])) > 1000 - 8  # as much as fits, not far less
    assert text.startswith(head_fitting(text, 1000))
    assert text.endswith(tail_fitting(text, 1000))
    assert head_fitting("short", 1000) == "short"
