"""Checks on save: each kind of meaningless definition refused, at its line and column, in
YAML and in JSON, all problems at once."""

from __future__ import annotations

import json

import pytest

from agent.flows.definition import FlowDefinition
from agent.flows.models import SourceFormat
from agent.flows.parse import DefinitionInvalid, parse_definition

Found = list[tuple[int | None, int | None, str, str]]


def errors_of(
    text: str,
    fmt: SourceFormat = "yaml",
    flows: dict[str, FlowDefinition] | None = None,
    self_id: str | None = None,
) -> Found:
    lookup = None if flows is None else flows.get
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(text, fmt, lookup=lookup, self_id=self_id)
    return [(e.line, e.column, e.path, e.message) for e in caught.value.errors]


def flow(text: str) -> FlowDefinition:
    return parse_definition(text, "yaml").definition


STEPS_YAML = """\
name: bad steps
inputs:
  folder: {type: string, default: /tmp}
steps:
  - id: fetch
    uses: http.request
    with:
      url: ${{ inputs.folderr }}
      verb: GET
  - id: use
    uses: notify
    with:
      title: ${{ steps.fetch.outputs.bodyy }}
      message: ${{ steps.nope.outputs.x }} ${{ steps.use.outputs.title }}
      severity: ${{ 1 + }}
    if: steps.fetch.status == 200
    on_error: goto nowhere
  - id: again
    uses: storage.get
    with: {max_bytes: 0, path: a}
    on_error: goto again
  - id: thin
    uses: task.run
  - id: odd
    uses: notify
    with: {title: "${{ secrets.token }}"}
outputs:
  result: ${{ steps.gone.outputs.x }}
"""


def test_step_problems_are_placed_and_reported_together() -> None:
    assert errors_of(STEPS_YAML) == [
        (8, 12, "steps[0].with.url", "unknown input `folderr`"),
        (9, 7, "steps[0].with.verb", "http.request takes no `verb`; it takes url, method, "
         "headers, body, max_bytes, fail_on_status"),
        (13, 14, "steps[1].with.title", "step `fetch` (http.request) has no output `bodyy`; "
         "it has body, headers, json, status, truncated"),
        (14, 16, "steps[1].with.message", "unknown step `nope`"),
        (14, 16, "steps[1].with.message", "step `use` cannot read its own outputs"),
        (15, 17, "steps[1].with.severity", "`1 +` does not compile: column 4: Syntax error: "
         "mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', "
         "'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"),
        (16, 9, "steps[1].if", "steps.fetch has no `status`; it has outputs, state, error"),
        (17, 15, "steps[1].on_error", "goto an unknown step `nowhere`"),
        (20, 23, "steps[2].with.max_bytes", "Input should be greater than or equal to 1"),
        (21, 15, "steps[2].on_error", "a step cannot go to itself"),
        (22, 5, "steps[3].with", "task.run needs `command`"),
        (26, 19, "steps[4].with.title", "unknown name `secrets`; expressions read inputs, "
         "trigger, steps, run, flow, now"),
        (28, 11, "outputs.result", "unknown step `gone`"),
    ]  # fmt: skip


def test_the_same_problems_in_json() -> None:
    text = (
        "{\n"
        '  "name": "bad",\n'
        '  "steps": [\n'
        '    {"id": "a", "uses": "storage.ls", "with": {"prefix": "${{ inputs.x }}"}},\n'
        '    {"id": "b", "uses": "notify", "with": {"title": "${{ steps.a.outputs.nope }}"},\n'
        '     "on_error": "goto zz"}\n'
        "  ],\n"
        '  "outputs": {"o": "${{ steps.a.outputs.count }}", "p": "${{ steps.q.state }}"}\n'
        "}\n"
    )
    assert errors_of(text, "json") == [
        (4, 58, "steps[0].with.prefix", "unknown input `x`"),
        (5, 53, "steps[1].with.title", "step `a` (storage.ls) has no output `nope`; it has "
         "count, files, paths"),
        (6, 18, "steps[1].on_error", "goto an unknown step `zz`"),
        (8, 57, "outputs.p", "unknown step `q`"),
    ]  # fmt: skip


TRIGGERS_YAML = """\
name: bad triggers
inputs:
  size: {type: integer, default: "big"}
  colour: {type: string, default: red, enum: [green, blue]}
  flag: {type: number, default: true}
triggers:
  - cron: "61 * * * *"
  - cron: "0 1 * * * *"
    timezone: Mars/Olympus
  - event: node.online
    filter: "event.data.self && inputs.size > 1"
  - event: node.offline
    filter: "event.data ==="
steps:
  - {id: a, uses: wait, with: {duration: 1s}}
"""


def test_trigger_and_input_problems() -> None:
    assert errors_of(TRIGGERS_YAML) == [
        (3, 34, "inputs.size.default", "the default is not of type integer"),
        (4, 35, "inputs.colour.default", "the default is not one of `enum`"),
        (5, 33, "inputs.flag.default", "the default is not of type number"),
        (7, 11, "triggers[0].cron", "not a cron schedule: Bad minute"),
        (8, 11, "triggers[1].cron", "a cron schedule has five fields: minute hour day month "
         "weekday"),
        (9, 15, "triggers[1].timezone", "unknown timezone 'Mars/Olympus'"),
        (11, 13, "triggers[2].filter", "unknown name `inputs`; a filter reads `event`"),
        (13, 13, "triggers[3].filter", errors_of(TRIGGERS_YAML)[-1][3]),
    ]  # fmt: skip
    assert errors_of(TRIGGERS_YAML)[-1][3].startswith("`event.data ===` does not compile")


def test_trigger_problems_in_json() -> None:
    text = json.dumps(
        {
            "name": "j",
            "triggers": [
                {"cron": "* * *  * *", "timezone": "Nowhere/City"},
                {"event": "a.b", "filter": "x > 1"},
            ],
            "steps": [{"id": "a", "uses": "wait", "with": {"duration": "1s"}}],
        },
        indent=1,
    )
    assert errors_of(text, "json") == [
        (6, 16, "triggers[0].timezone", "unknown timezone 'Nowhere/City'"),
        (10, 14, "triggers[1].filter", "unknown name `x`; a filter reads `event`"),
    ]


def test_free_roots_and_max_with_single_are_fine() -> None:
    text = """\
name: free
mode: single
max: 7
steps:
  - id: a
    uses: notify
    with:
      title: ${{ trigger.anything.at.all }} ${{ run.id }} ${{ flow.name }} ${{ now }}
      message: ${{ [1, 2].map(x, x + 1).size() }} ${{ has(steps.a.state) }}
"""
    assert parse_definition(text, "yaml").definition.max == 7


CHILD = flow("""\
name: child
inputs: {path: {type: string}}
steps:
  - {id: s, uses: storage.get, with: {path: "${{ inputs.path }}"}}
outputs: {content: "${{ steps.s.outputs.content }}"}
""")


def parent(target: str, *, inputs: str = "{path: a}", then: str = "content") -> str:
    return f"""\
name: parent
steps:
  - id: call
    uses: flow.run
    with: {{flow: {target}, inputs: {inputs}}}
  - id: after
    uses: notify
    with: {{title: "${{{{ steps.call.outputs.{then} }}}}"}}
"""


def test_sub_flows_outputs_and_inputs_are_checked() -> None:
    flows = {"child": CHILD}
    assert parse_definition(parent("child"), "yaml", lookup=flows.get).definition.name == "parent"
    assert errors_of(parent("child", inputs="{path: a, extra: 1}", then="nope"), flows=flows) == [
        (5, 43, "steps[0].with.inputs.extra", "'child' has no input `extra`; it has path"),
        (
            8,
            19,
            "steps[1].with.title",
            "step `call` (flow.run) has no output `nope`; it has content",
        ),
    ]
    assert errors_of(parent("stranger"), flows=flows) == [
        (5, 18, "steps[0].with.flow", "unknown flow 'stranger'")
    ]


def test_a_flow_cannot_run_itself_directly_or_in_a_circle() -> None:
    assert errors_of(parent("parent"), flows={}) == [
        (5, 18, "steps[0].with.flow", "a flow cannot run itself")
    ]
    assert errors_of(parent("my-id"), flows={}, self_id="my-id")[0][3] == "a flow cannot run itself"
    middle = flow(
        parent("parent").replace("name: parent", "name: middle").replace("{path: a}", "{}")
    )
    found = errors_of(parent("middle", inputs="{}"), flows={"middle": middle})
    assert found[0] == (
        5,
        18,
        "steps[0].with.flow",
        "the sub-flows run in a circle: middle -> parent",
    )


def test_sub_flows_nesting_too_deep() -> None:
    flows: dict[str, FlowDefinition] = {"f9": CHILD}
    for level in range(8, -1, -1):
        flows[f"f{level}"] = flow(
            parent(f"f{level + 1}", inputs="{}").replace("name: parent", f"name: f{level}")
        )
    found = errors_of(parent("f0", inputs="{}"), flows=flows)
    assert found[0][3].startswith("sub-flows nest deeper than 8: f0 -> f1")


def test_a_computed_sub_flow_is_left_to_the_run() -> None:
    text = parent("\"${{ 'child' }}\"", then="anything")
    nothing: dict[str, FlowDefinition] = {}
    assert parse_definition(text, "yaml", lookup=nothing.get).definition.name == "parent"
