"""Every node's Ollama as one pool: status here, capabilities and models cluster-wide.

Each node describes its Ollama (up or down with the reason, version, models with the facts the
planner needs, loaded models) in its capabilities, which heartbeats carry to every member, so
any node can answer for the whole cluster. The planner's verdict is computed per model against
the online nodes' free memory as last heard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio

from agent.core.capabilities import ModelFacts
from agent.core.cluster import ONLINE
from agent.core.subsystem import Context
from agent.llm.backend import OllamaBackend
from agent.llm.events import LLM_BACKEND, MODEL_DELETED, BackendChanged, ModelRemoved
from agent.llm.models import (
    ClusterModel,
    InferenceCapabilities,
    InferenceNode,
    LlmStatus,
    ModelCatalog,
    ModelDeleted,
    ModelHolder,
    ModelPlan,
    ModelPlanUnknown,
)
from agent.llm.planner import Node, plan

log = logging.getLogger("openfabric.llm")
MONITOR_UP_S = 10.0
MONITOR_DOWN_S = 2.0
STATUS_FRESH_S = 1.0


class LlmService:
    def __init__(self, ctx: Context, backend: OllamaBackend) -> None:
        self.ctx = ctx
        self.backend = backend
        self._was_up: bool | None = None

    async def refresh(self) -> None:
        """Ask Ollama again; publish `llm.backend` when it went up or down."""
        snapshot = await self.backend.refresh()
        capability = snapshot.capability()
        self.ctx.capabilities.llm = capability
        if snapshot.up != self._was_up:
            self._was_up = snapshot.up
            if snapshot.up:
                log.info("Ollama at %s is up (version %s)", self.backend.url, snapshot.version)
            else:
                log.info("Ollama at %s is down: %s", self.backend.url, snapshot.reason)
            self.ctx.bus.publish(
                LLM_BACKEND,
                BackendChanged(up=snapshot.up, reason=capability.reason, url=self.backend.url),
            )

    async def monitor(self) -> None:
        # While Ollama is down the checks back off (a node without Ollama asks every 10 s, not
        # every 2 s); a status request checks afresh whenever the last look is stale.
        down_wait = MONITOR_DOWN_S
        while True:
            await self.refresh()
            if self.backend.snapshot.up:
                down_wait = MONITOR_DOWN_S
                await anyio.sleep(MONITOR_UP_S)
                continue
            await anyio.sleep(down_wait)
            down_wait = min(down_wait * 2, MONITOR_UP_S)

    async def status(self) -> LlmStatus:
        checked = self.backend.snapshot.checked_at
        if checked is None or time.time() - checked > STATUS_FRESH_S:
            await self.refresh()
        snapshot = self.backend.snapshot
        return LlmStatus(
            node_id=self.ctx.cluster.node_id,
            ollama_url=self.backend.url,
            up=snapshot.up,
            reason=None if snapshot.up else snapshot.reason,
            version=snapshot.version,
            models=snapshot.models,
            loaded=snapshot.loaded,
            checked_at=snapshot.checked_at,
        )

    def _nodes(self) -> list[InferenceNode]:
        """Every member with its LLM capabilities and free memory, as last heard."""
        found = []
        for member in self.ctx.cluster.members():
            free_ram, free_vram = _free_memory(member.telemetry)
            found.append(
                InferenceNode(
                    node_id=member.node_id,
                    name=member.name,
                    state=member.state,
                    llm=member.capabilities.llm,
                    free_ram=free_ram,
                    free_vram=free_vram,
                )
            )
        return found

    def capabilities(self) -> InferenceCapabilities:
        nodes = self._nodes()
        return InferenceCapabilities(nodes=nodes, count=len(nodes))

    def models(self) -> ModelCatalog:
        nodes = self._nodes()
        pool = [
            Node(n.node_id, n.name, n.free_ram, n.free_vram) for n in nodes if n.state == ONLINE
        ]
        facts: dict[str, ModelFacts] = {}
        holders: dict[str, list[ModelHolder]] = {}
        for node in nodes:
            if node.llm is None or not node.llm.up:
                continue
            for model in node.llm.models:
                facts.setdefault(model.name, model)
                holder = ModelHolder(node_id=node.node_id, name=node.name, state=node.state)
                holders.setdefault(model.name, []).append(holder)
        models = [
            ClusterModel(
                name=name,
                size=facts[name].size,
                family=facts[name].family,
                parameter_size=facts[name].parameter_size,
                quantization=facts[name].quantization,
                context_length=facts[name].context_length,
                details=facts[name].details,
                nodes=holders[name],
                plan=_placement(facts[name], pool),
            )
            for name in sorted(facts)
        ]
        return ModelCatalog(models=models, count=len(models))

    async def delete(self, name: str) -> ModelDeleted:
        if not self.backend.snapshot.up:
            await self.backend.refresh()
            if not self.backend.snapshot.up:
                raise self.backend.down(self.backend.snapshot.reason)
        await self.backend.delete(name)
        await self.refresh()
        self.ctx.bus.publish(MODEL_DELETED, ModelRemoved(model=name))
        return ModelDeleted(model=name, deleted=True)


def _placement(facts: ModelFacts, pool: list[Node]) -> ModelPlan:
    show = {"details": facts.details, "model_info": facts.model_info}
    try:
        verdict = plan(show, pool, size_bytes=facts.size or None)
    except ValueError as exc:
        return ModelPlanUnknown(verdict="unknown", reason=str(exc))
    return verdict


def _free_memory(sample: Mapping[str, Any] | None) -> tuple[int, int]:
    """Free RAM and VRAM in bytes from a telemetry sample; 0 for what it does not say."""
    # The sample is a member's raw telemetry (any version's shape), hence the defensive read.
    try:
        free_ram = int(sample["memory"]["available"]) if sample else 0
        free_vram = sum(int(g["memory_free"]) for g in sample.get("gpus") or []) if sample else 0
    except (KeyError, TypeError, ValueError):
        free_ram = free_vram = 0
    return free_ram, free_vram
