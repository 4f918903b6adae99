"""Wire shapes of the operations routes: health, metrics and the API description."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, RootModel

from agent.core.wire import Answer

CheckStatus = Literal["pass", "warn", "fail"]
MetricType = Literal[
    "counter", "gauge", "histogram", "summary", "info", "stateset", "gaugehistogram", "unknown"
]


class HealthCheck(Answer):
    name: str
    status: CheckStatus
    detail: str = Field(description="What the check found, for a person")
    duration_ms: float


class HealthReport(Answer):
    """Every check's result (for the token holder); `unhealthy` comes with status 503."""

    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="unhealthy when a check fails, degraded when one warns"
    )
    node_id: str
    version: str
    uptime_s: float
    checks: list[HealthCheck]


class HealthProbe(Answer):
    """What anyone may learn without credentials: whether the agent is up."""

    status: Literal["ok", "unhealthy"]


class HealthAnswer(RootModel[HealthReport | HealthProbe]):
    """`/api/health`: the report with credentials, the probe without."""


class MetricSample(Answer):
    name: str
    labels: dict[str, str]
    value: float | Literal["+Inf", "-Inf"] = Field(description="Infinity is given as text")


class MetricFamily(Answer):
    name: str
    type: MetricType
    help: str
    samples: list[MetricSample]


class MetricsReport(Answer):
    metrics: list[MetricFamily]
    count: int


class OpenApiDocument(Answer):
    """The OpenAPI 3.1 description of every route. Its parts are OpenAPI's own (free-form
    here: the standard defines them); other top-level keys (servers, security) are kept."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
