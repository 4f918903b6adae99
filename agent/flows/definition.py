"""The shape of a flow definition: what `POST /api/flows` accepts (as YAML or JSON) and what
`GET /api/flows/schema` publishes.

A definition names its triggers, typed inputs, run mode, steps and outputs. Strings in a
step's `with`, in `outputs` and in `if` may hold expressions (`${{ inputs.folder }}`); they
are compiled and their references checked when the flow is saved (agent/flows/checks.py),
so a definition that names an unknown step, output or action is refused then, not at 2 a.m.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from agent.core.wire import StrictModel

MAX_STEPS = 100
MAX_TRIGGERS = 20
MAX_INPUTS = 50
MAX_OUTPUTS = 50
MAX_TEXT = 2000
MAX_EXPRESSION = 4000
MAX_WITH_KEYS = 50
MAX_RETRIES = 20
MAX_DURATION_S = 366 * 86400.0
MAX_RUN_LIMIT = 100
STEP_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
INPUT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
TOPIC_PATTERN = r"^[a-z][a-z0-9_.-]{0,127}$"

Action = Literal[
    "task.run",
    "llm.chat",
    "brain.search",
    "storage.put",
    "storage.get",
    "storage.ls",
    "storage.rm",
    "mcp.call",
    "http.request",
    "flow.run",
    "wait",
    "notify",
]
ACTIONS: tuple[str, ...] = get_args(Action)
FileChange = Literal["created", "modified", "deleted"]
DEFAULT_CHANGES: tuple[FileChange, ...] = ("created", "modified")
RunMode = Literal["single", "restart", "queued", "parallel"]
InputType = Literal["string", "number", "integer", "boolean", "object", "array"]
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: object) -> object:
    """Seconds from a number or a text like `90s`, `10m`, `1h30m`, `250ms`, `2d`. Anything
    else is passed on unchanged, for the float check to refuse with its own message."""
    if isinstance(value, bool) or not isinstance(value, str):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    text = value.strip().replace(" ", "")
    if not text or _DURATION.sub("", text):
        raise ValueError(f"{value!r} is not a duration (for example 30s, 10m, 1h30m, 2d)")
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


Duration = Annotated[
    float, BeforeValidator(parse_duration), Field(ge=0, le=MAX_DURATION_S, description="Seconds")
]
PositiveDuration = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_DURATION_S, description="Seconds")
]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Expression = Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION)]
StepId = Annotated[str, Field(pattern=STEP_ID_PATTERN)]
InputName = Annotated[str, Field(pattern=INPUT_NAME_PATTERN)]


class CronTrigger(StrictModel):
    cron: Annotated[str, Field(min_length=9, max_length=200)] = Field(
        description="Five fields: minute hour day-of-month month day-of-week"
    )
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        default="UTC", description="IANA name, e.g. Europe/Paris"
    )


class IntervalTrigger(StrictModel):
    interval: Annotated[float, BeforeValidator(parse_duration), Field(ge=1, le=MAX_DURATION_S)] = (
        Field(description="Seconds between runs (at least 1), e.g. 10m")
    )


class EventTrigger(StrictModel):
    event: Annotated[str, Field(pattern=TOPIC_PATTERN)] = Field(
        description="A bus topic (or a prefix of topics), e.g. node.offline"
    )
    filter: Expression | None = Field(
        default=None, description="A condition over `event` (topic, data) that must hold"
    )


class FileWatch(StrictModel):
    storage: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        default=None, description="A glob over shared storage paths, e.g. docs/**/*.md"
    )
    path: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        default=None, description="A glob over a local folder of the node that runs the flow"
    )
    on: list[FileChange] = Field(default_factory=lambda: list(DEFAULT_CHANGES), max_length=3)

    @model_validator(mode="after")
    def _one_place(self) -> FileWatch:
        if (self.storage is None) == (self.path is None):
            raise ValueError("a file trigger watches either `storage` or `path`, not both")
        return self


class FileTrigger(StrictModel):
    file: FileWatch


class ManualTrigger(StrictModel):
    manual: dict[str, Any] = Field(
        default_factory=dict, max_length=0, description="Always empty: runs come from the API"
    )


TRIGGER_KINDS = ("cron", "interval", "event", "file", "manual")


def trigger_kind(value: object) -> str | None:
    """The trigger's kind: the one kind key its mapping holds (None when not exactly one)."""
    if isinstance(value, dict):
        kinds = [k for k in TRIGGER_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    if isinstance(value, StrictModel):
        return type(value).__name__.removesuffix("Trigger").lower()
    return None


Trigger = Annotated[
    Annotated[CronTrigger, Tag("cron")]
    | Annotated[IntervalTrigger, Tag("interval")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[FileTrigger, Tag("file")]
    | Annotated[ManualTrigger, Tag("manual")],
    Discriminator(
        trigger_kind,
        custom_error_type="trigger_kind",
        custom_error_message="a trigger holds exactly one of: " + ", ".join(TRIGGER_KINDS),
    ),
]


class InputSpec(StrictModel):
    type: InputType = "string"
    description: Text = ""
    default: Any = None
    required: bool | None = Field(
        default=None, description="Must a run give it (default: when it has no default)"
    )
    enum: list[Any] | None = Field(default=None, max_length=100)


class Retry(StrictModel):
    limit: Annotated[int, Field(ge=0, le=MAX_RETRIES)] = Field(
        default=0, description="Attempts after the first"
    )
    backoff: Duration = Field(
        default=1.0, description="Delay before the first retry; doubled each time"
    )
    max_delay: Duration = Field(default=300.0, description="The longest delay between attempts")


ON_ERROR_PATTERN = r"^(fail|continue|goto [a-z][a-z0-9_]{0,63})$"


class Step(StrictModel):
    id: StepId
    name: Text = ""
    uses: Action
    with_: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        default_factory=dict, alias="with", max_length=MAX_WITH_KEYS
    )
    if_: Expression | None = Field(default=None, alias="if")
    timeout: PositiveDuration | None = None
    retry: Retry = Field(default_factory=Retry)
    on_error: Annotated[str, Field(pattern=ON_ERROR_PATTERN)] = Field(
        default="fail", description="fail | continue | goto STEP (retries come first)"
    )

    @property
    def goto(self) -> str | None:
        return self.on_error[5:] if self.on_error.startswith("goto ") else None


class FlowDefinition(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    enabled: bool = True
    triggers: list[Trigger] = Field(default_factory=list, max_length=MAX_TRIGGERS)
    inputs: dict[InputName, InputSpec] = Field(default_factory=dict, max_length=MAX_INPUTS)
    mode: RunMode = "single"
    max: Annotated[int, Field(ge=1, le=MAX_RUN_LIMIT)] = Field(
        default=10, description="queued: runs waiting at most; parallel: runs at once"
    )
    catch_up: bool = Field(
        default=False, description="Run once on start for cron times missed while down"
    )
    runs_on: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="A node (id or name) that alone runs this flow (no failover); default: "
        "any member, one at a time",
    )
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    outputs: dict[InputName, Expression] = Field(default_factory=dict, max_length=MAX_OUTPUTS)

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, steps: list[Step]) -> list[Step]:
        seen: set[str] = set()
        for step in steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return steps
