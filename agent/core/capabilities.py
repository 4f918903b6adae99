"""What a node offers the cluster: the capabilities every heartbeat carries to every member.

This is a wire contract between nodes of possibly different versions, so unknown fields are
ignored (a newer member may add some) and every known one is bounded: a member can be
compromised, and what it claims here steers placement of tasks, chunks and inference.
A field left `None` means the node did not say, which is not the same as "no".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

MAX_MODELS = 512
MAX_NAME = 256
MAX_REASON = 1024
_BYTES = Field(default=None, ge=0, le=2**62)
# Some architectures give a value per layer (e.g. `attention.head_count_kv`).
PerLayer = Annotated[list[int], Field(max_length=4096)]


class ModelFacts(BaseModel):
    """The compact description of one local model that members exchange."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(max_length=MAX_NAME)
    size: int = Field(default=0, ge=0, le=2**62)
    family: str | None = Field(default=None, max_length=MAX_NAME)
    parameter_size: str | None = Field(default=None, max_length=64)
    quantization: str | None = Field(default=None, max_length=64)
    context_length: int | None = Field(default=None, ge=0, le=2**31)
    details: dict[str, str | None] = Field(default_factory=dict, max_length=16)
    model_info: dict[str, str | int | float | PerLayer] = Field(default_factory=dict, max_length=32)


class LoadedModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(max_length=MAX_NAME)
    size: int = Field(default=0, ge=0, le=2**62)
    size_vram: int = Field(default=0, ge=0, le=2**62)
    expires_at: str | None = Field(default=None, max_length=64)


class LlmCapability(BaseModel):
    """This node's Ollama as its monitor last saw it."""

    model_config = ConfigDict(extra="ignore")

    up: bool = False
    reason: str | None = Field(default=None, max_length=MAX_REASON)
    version: str | None = Field(default=None, max_length=64)
    models: list[ModelFacts] = Field(default_factory=list, max_length=MAX_MODELS)
    loaded: list[LoadedModel] = Field(default_factory=list, max_length=MAX_MODELS)
    checked_at: float | None = None


class Capabilities(BaseModel):
    # Strict scalars: a claim of "yes" or "3" is refused, not coerced.
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    remote_exec: StrictBool | None = None
    max_tasks: StrictInt | None = Field(default=None, ge=0, le=4096)
    tasks_busy: StrictInt | None = Field(default=None, ge=0, le=1 << 20)
    storage_free: StrictInt | None = _BYTES
    storage_used: StrictInt | None = _BYTES
    llm: LlmCapability | None = None
    # What Pulse watches on every member (each reported by the subsystem that knows it).
    breakers_open: StrictInt | None = Field(
        default=None, ge=0, le=4096, description="Task breakers open in this node's scheduler"
    )
    storage_degraded: StrictInt | None = Field(
        default=None, ge=0, le=2**40, description="Stored files with fewer copies than wanted"
    )
    brain_backlog: StrictInt | None = Field(
        default=None, ge=0, le=2**40, description="Files waiting for this node's brain"
    )
