"""Definition text -> FlowDefinition: syntax and shape errors at their line and column, all
at once, bounds on size and structure, and a full definition parsed into the right model."""

from __future__ import annotations

import json
import time

import pytest

from agent.flows.definition import (
    CronTrigger,
    EventTrigger,
    FileTrigger,
    IntervalTrigger,
    ManualTrigger,
)
from agent.flows.models import DefinitionError, SourceFormat
from agent.flows.parse import DefinitionInvalid, definition_schema, parse_definition

Found = list[tuple[int | None, int | None, str, str]]


def errors_of(text: str, fmt: SourceFormat = "yaml") -> Found:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(text, fmt)
    assert caught.value.status == 400
    assert caught.value.code == "FLOW_INVALID"
    listed = caught.value.details["errors"]
    assert [DefinitionError.model_validate(e) for e in listed] == caught.value.errors
    return [(e.line, e.column, e.path, e.message) for e in caught.value.errors]


FULL = """\
name: Everything
description: every trigger and every action
mode: queued
max: 3
catch_up: true
runs_on: laptop
inputs:
  folder: {type: string, default: /tmp}
  count: {type: integer, default: 2, enum: [1, 2, 3]}
  on: {type: boolean, default: false}
triggers:
  - cron: "30 2 * * *"
    timezone: Europe/Paris
  - interval: 10m
  - event: node.online
    filter: "!event.data.self"
  - file: {storage: "docs/**/*.md", on: [created]}
  - file: {path: /srv/in/*.csv}
  - manual: {}
steps:
  - {id: t, uses: task.run, with: {command: "ls ${{ inputs.folder }}", node: local}, timeout: 1h}
  - {id: c, uses: llm.chat, with: {prompt: "${{ steps.t.outputs.stdout }}"}}
  - {id: b, uses: brain.search, with: {query: backups, k: 3}}
  - {id: p, uses: storage.put, with: {path: a.txt, content: "${{ steps.c.outputs.text }}"}}
  - {id: g, uses: storage.get, with: {path: a.txt}}
  - {id: l, uses: storage.ls, with: {prefix: docs/}}
  - {id: r, uses: storage.rm, with: {path: a.txt, missing_ok: true}}
  - {id: m, uses: mcp.call, with: {server: fs, tool: read, arguments: {p: 1}}}
  - id: h
    uses: http.request
    with: {url: "https://example.org", method: POST, body: {n: "${{ inputs.count }}"}}
    retry: {limit: 2, backoff: 5s, max_delay: 1m}
    on_error: goto w
  - {id: f, uses: flow.run, with: {flow: "${{ 'other' }}", inputs: {x: 1}}, on_error: continue}
  - {id: w, uses: wait, with: {duration: 30s}, if: "inputs.on"}
  - {id: e, uses: wait, with: {event: task.done, filter: "event.data.ok", timeout: 5m}}
  - {id: n, uses: notify, with: {title: "Done ${{ run.date }}", severity: warning}}
outputs:
  status: ${{ steps.h.outputs.status }}
"""


def test_a_full_definition_parses_into_the_model() -> None:
    parsed = parse_definition(FULL, "yaml")
    definition = parsed.definition
    assert parsed.source == FULL
    assert parsed.format == "yaml"
    kinds = [type(t) for t in definition.triggers]
    assert kinds == [
        CronTrigger,
        IntervalTrigger,
        EventTrigger,
        FileTrigger,
        FileTrigger,
        ManualTrigger,
    ]
    interval = definition.triggers[1]
    assert isinstance(interval, IntervalTrigger)
    assert interval.interval == 600.0
    storage = definition.triggers[3]
    assert isinstance(storage, FileTrigger)
    assert storage.file.on == ["created"]
    assert definition.inputs["on"].default is False
    assert definition.inputs["count"].default == 2
    assert [s.uses for s in definition.steps] == [
        "task.run", "llm.chat", "brain.search", "storage.put", "storage.get", "storage.ls",
        "storage.rm", "mcp.call", "http.request", "flow.run", "wait", "wait", "notify",
    ]  # fmt: skip
    assert definition.steps[0].timeout == 3600.0
    assert definition.steps[8].goto == "w"
    assert definition.steps[8].retry.max_delay == 60.0
    assert definition.steps[10].if_ == "inputs.on"
    assert definition.mode == "queued"
    assert definition.max == 3
    assert definition.catch_up
    assert definition.outputs == {"status": "${{ steps.h.outputs.status }}"}


def test_the_same_definition_as_json() -> None:
    as_json = json.dumps(
        parse_definition(FULL, "yaml").definition.model_dump(by_alias=True), indent=2
    )
    assert parse_definition(as_json, "json").definition == parse_definition(FULL, "yaml").definition


def test_yaml_syntax_error_has_its_line_and_column() -> None:
    text = "name: x\nsteps:\n  - id: a\n    uses: [task.run\n"
    ((line, column, path, message),) = errors_of(text)
    assert (line, column, path) == (5, 1, "")
    assert message.startswith("YAML:")
    ((line, column, _, message),) = errors_of("name: x\nsteps: a: b\n")
    assert (line, column) == (2, 9)
    assert "mapping values are not allowed" in message


def test_json_syntax_error_has_json_line_and_column() -> None:
    text = '{\n  "name": "x",\n  "steps": [\n    {"id": "a",, "uses": "wait"}\n  ]\n}'
    ((line, column, _, message),) = errors_of(text, "json")
    assert (line, column) == (4, 16)
    assert message.startswith("JSON:")


SHAPE_YAML = """\
name: x
mode: sometimes
triggers:
  - cron: "0 1 * * *"
    tz: UTC
  - interval: soon
steps:
  - id: a
    uses: task.runn
  - uses: wait
    with: {duration: 1s}
"""


def test_shape_errors_are_all_reported_at_their_nodes() -> None:
    assert errors_of(SHAPE_YAML) == [
        (2, 7, "mode", "Input should be 'single', 'restart', 'queued' or 'parallel'"),
        (5, 5, "triggers[0].tz", "unknown key `tz`"),
        (6, 15, "triggers[1].interval", "'soon' is not a duration (for example 30s, 10m, "
         "1h30m, 2d)"),
        (9, 11, "steps[0].uses", "unknown action 'task.runn'; one of task.run, llm.chat, "
         "brain.search, storage.put, storage.get, storage.ls, storage.rm, mcp.call, "
         "http.request, flow.run, wait, notify"),
        (10, 5, "steps[1].id", "`id` is required"),
    ]  # fmt: skip


def test_shape_errors_in_json() -> None:
    text = (
        '{"name": "x",\n'
        ' "bogus": 1,\n'
        ' "inputs": {"Bad": {}},\n'
        ' "steps": [{"id": "a", "uses": "nope"}]}'
    )
    assert errors_of(text, "json") == [
        (2, 2, "bogus", "unknown key `bogus`"),
        (3, 13, "inputs.Bad", "String should match pattern '^[a-z][a-z0-9_]{0,63}$'"),
        (4, 32, "steps[0].uses", "unknown action 'nope'; one of task.run, llm.chat, "
         "brain.search, storage.put, storage.get, storage.ls, storage.rm, mcp.call, "
         "http.request, flow.run, wait, notify"),
    ]  # fmt: skip
    assert errors_of('{"name": "x"}', "json") == [(1, 1, "steps", "`steps` is required")]


def test_duplicate_keys_are_refused_at_the_second() -> None:
    assert errors_of("name: x\nsteps: []\nname: y\n") == [
        (3, 1, "", "the key `name` is given twice")
    ]
    assert errors_of('{"name": "x",\n "name": "y"}', "json") == [
        (2, 2, "", "the key `name` is given twice")
    ]


def test_not_a_mapping_or_empty() -> None:
    assert errors_of("- a\n- b\n") == [(1, 1, "", "the definition must be a mapping")]
    assert errors_of("") == [(1, 1, "", "the definition is empty")]
    assert errors_of("[1]", "json") == [(1, 1, "", "the definition must be a mapping")]


def test_yaml_tags_other_than_plain_types_are_refused() -> None:
    ((line, column, _, message),) = errors_of("name: !!python/object:os.system x\nsteps: []\n")
    assert (line, column) == (1, 7)
    assert "tag" in message


def test_yaml_1_2_scalars() -> None:
    text = "name: x\nsteps:\n  - id: a\n    uses: notify\n    with: {title: yes, message: 1:30}\n"
    step = parse_definition(text, "yaml").definition.steps[0]
    assert step.with_ == {"title": "yes", "message": "1:30"}


def quickly(text: str, fmt: SourceFormat = "yaml") -> Found:
    started = time.monotonic()
    found = errors_of(text, fmt)
    assert time.monotonic() - started < 5
    return found


def test_alias_bombs_are_refused() -> None:
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n'
    assert quickly(bomb) == [(1, 4, "", "anchors are not allowed")]
    assert quickly("name: x\nsteps: *nothing\n") == [(2, 8, "", "aliases are not allowed")]


def test_huge_definitions_are_refused() -> None:
    assert quickly("name: x\n" + "#" * (256 * 1024)) == [(1, 1, "", "longer than 256 KiB")]
    nodes = "name: x\nsteps: [" + ",".join(["1"] * 20_001) + "]\n"
    assert quickly(nodes)[0][3] == "more than 20000 values"
    deep = "name: " + "[" * 100 + "]" * 100
    assert quickly(deep) == [(1, 70, "", "nested deeper than 64 levels")]
    assert quickly('{"name": ' + "[" * 5000 + "]" * 5000 + "}", "json")[0][3].startswith(
        "nested deeper"
    )
    steps = "".join(f"  - {{id: s{i}, uses: wait, with: {{duration: 1s}}}}\n" for i in range(101))
    assert quickly("name: x\nsteps:\n" + steps) == [
        (3, 3, "steps", "List should have at most 100 items after validation, not 101")
    ]


def test_the_summary_names_the_first_error() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(SHAPE_YAML, "yaml")
    assert caught.value.message == (
        "the flow definition has 5 errors (first: line 2, column 7: mode: Input should be "
        "'single', 'restart', 'queued' or 'parallel')"
    )


def test_schema_is_by_alias() -> None:
    schema = definition_schema()
    assert "steps" in schema["properties"]
    step = schema["$defs"]["Step"]["properties"]
    assert "with" in step
    assert "if" in step
    assert "with_" not in step
