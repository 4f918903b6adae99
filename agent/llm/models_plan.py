"""The sharding planner's verdict as the model catalog answers it (see `agent.llm.planner`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agent.core.wire import Answer


class ModelEstimates(Answer):
    """The sizes a plan was computed from (bytes), and how they were obtained."""

    weights_bytes: int
    weights_source: Literal["disk", "parameters"] = Field(
        description="Weights from the size on disk, or from the parameter count."
    )
    bits_per_weight: float
    embedding_bytes: int
    per_layer_bytes: int
    kv_cache_bytes: int
    kv_per_layer_bytes: int
    context_length: int
    layers: int
    overhead_bytes: int
    total_bytes: int = Field(description="Weights + KV cache + runtime overhead.")
    assumptions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class ModelFit(Answer):
    """A node that can hold the whole model."""

    node_id: str
    name: str
    usable_bytes: int
    headroom_bytes: int
    vram_only: bool = Field(description="Whether its free VRAM alone holds the model.")


class ModelShard(Answer):
    """Layers [start, end) of a split placed on one node."""

    node_id: str
    name: str
    start: int
    end: int
    layers: int
    bytes: int
    usable_bytes: int
    embedding: bool = Field(description="Whether this node holds the token embeddings.")
    output: bool = Field(description="Whether this node holds the output head.")


class ModelPlacement(Answer):
    """Where the model runs: `fits_on` for single_node (best first), `shards` for split,
    `shortfall_bytes` for infeasible (0 when the memory suffices in total but cannot be
    divided by layers)."""

    verdict: Literal["single_node", "split", "infeasible"]
    estimates: ModelEstimates
    fits_on: list[ModelFit]
    shards: list[ModelShard]
    shortfall_bytes: int


class ModelPlanUnknown(Answer):
    """The planner could not size the model (no size on disk and no parameter count)."""

    verdict: Literal["unknown"]
    reason: str


ModelPlan = Annotated[ModelPlacement | ModelPlanUnknown, Field(discriminator="verdict")]
