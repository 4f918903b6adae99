"""The human units of the table format."""

from __future__ import annotations

import json

import pytest
import yaml

from agent.client import Discovered
from cli import output


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (16 * 2**30, "16.0 GiB"),
        (3 * 2**40, "3.0 TiB"),
        (None, "-"),
    ],
)
def test_size(value: int | None, text: str) -> None:
    assert output.size(value) == text


@pytest.mark.parametrize(
    ("elapsed", "text"),
    [
        (0.4, "0s ago"),
        (2, "2s ago"),
        (125, "2m ago"),
        (3 * 3600 + 5, "3h ago"),
        (2 * 86400 + 7, "2d ago"),
        (-5, "0s ago"),
    ],
)
def test_ago(elapsed: float, text: str) -> None:
    assert output.ago(1_000_000 - elapsed, now=1_000_000) == text


def test_ago_of_nothing() -> None:
    assert output.ago(None) == "never"


def test_duration_shows_the_two_largest_units() -> None:
    assert output.duration(3725) == "1h 2m"
    assert output.duration(59) == "59s"
    assert output.duration(0) == "0s"


def test_table_aligns_columns_and_trims_trailing_space() -> None:
    text = output.table(["A", "LONGER"], [["xyz", 1], ["q", ""]])
    assert text.splitlines() == ["A    LONGER", "xyz  1", "q"]


def test_render_formats() -> None:
    data = {"b": 1, "a": [1, 2]}
    assert output.render(data, "json", str) == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}'
    assert output.render(data, "yaml", str) == "b: 1\na:\n- 1\n- 2"
    assert output.render(data, "table", lambda d: "T") == "T"


def test_render_writes_a_model_as_the_json_the_agent_sent() -> None:
    body = {"agents": [], "count": 0, "mdns": False}
    listing = Discovered.model_validate(body)
    assert json.loads(output.render(listing, "json", str)) == body
    assert yaml.safe_load(output.render(listing, "yaml", str)) == body
    # The table view gets the model itself.
    assert output.render(listing, "table", lambda d: f"mdns={d.mdns}") == "mdns=False"
