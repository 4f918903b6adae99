"""Every node's Ollama as one pool: status here, capabilities and models cluster-wide.

Each node describes its Ollama (up or down with the reason, version, models with the facts the
planner needs, loaded models) in its capabilities, which heartbeats carry to every member, so
any node can answer for the whole cluster. The planner's verdict is computed per model against
the online nodes' free memory as last heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from agent.cluster.membership import ONLINE, Membership
from agent.core.subsystem import Context
from agent.llm.backend import OllamaBackend
from agent.llm.planner import plan

log = logging.getLogger("openfabric.llm")
MONITOR_UP_S = 10.0
MONITOR_DOWN_S = 2.0
STATUS_FRESH_S = 1.0


class LlmService:
    def __init__(
        self, ctx: Context, backend: OllamaBackend, membership: Membership, telemetry: Any
    ) -> None:
        self.ctx = ctx
        self.backend = backend
        self.membership = membership
        self.telemetry = telemetry
        self._was_up: bool | None = None

    async def refresh(self) -> None:
        """Ask Ollama again; publish `llm.backend` when it went up or down."""
        snapshot = await self.backend.refresh()
        self.ctx.capabilities["llm"] = snapshot.as_dict()
        if snapshot.up != self._was_up:
            self._was_up = snapshot.up
            if snapshot.up:
                log.info("Ollama at %s is up (version %s)", self.backend.url, snapshot.version)
            else:
                log.info("Ollama at %s is down: %s", self.backend.url, snapshot.reason)
            self.ctx.bus.publish(
                "llm.backend",
                {
                    "up": snapshot.up,
                    "reason": snapshot.as_dict()["reason"],
                    "url": self.backend.url,
                },
            )

    async def monitor(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(MONITOR_UP_S if self.backend.snapshot.up else MONITOR_DOWN_S)

    async def status(self) -> dict[str, Any]:
        checked = self.backend.snapshot.checked_at
        if checked is None or time.time() - checked > STATUS_FRESH_S:
            await self.refresh()
        return {
            "node_id": self.membership.node_id,
            "ollama_url": self.backend.url,
            **self.backend.snapshot.as_dict(),
        }

    def _nodes(self) -> list[dict[str, Any]]:
        """Every member with its LLM capabilities and free memory, as last heard."""
        found = []
        for member in self.membership.active():
            is_self = member.node_id == self.membership.node_id
            live = self.membership.live.get(member.node_id)
            llm = (
                self.ctx.capabilities.get("llm")
                if is_self
                else (live.capabilities.get("llm") if live else None)
            )
            sample = self.telemetry.latest() if is_self else (live.telemetry if live else None)
            found.append(
                {
                    "node_id": member.node_id,
                    "name": member.name,
                    "state": self.membership.state_of(member.node_id),
                    "llm": llm if isinstance(llm, dict) else None,
                    **_free_memory(sample),
                }
            )
        return found

    def capabilities(self) -> dict[str, Any]:
        nodes = self._nodes()
        return {"nodes": nodes, "count": len(nodes)}

    def models(self) -> dict[str, Any]:
        nodes = self._nodes()
        online = [n for n in nodes if n["state"] == ONLINE]
        catalog: dict[str, dict[str, Any]] = {}
        for node in nodes:
            llm = node["llm"] or {}
            for model in llm.get("models") or [] if llm.get("up") else []:
                entry = catalog.setdefault(model["name"], {**model, "nodes": []})
                entry["nodes"].append(
                    {"node_id": node["node_id"], "name": node["name"], "state": node["state"]}
                )
        models = []
        for name in sorted(catalog):
            entry = catalog[name]
            try:
                verdict = plan(
                    {
                        "details": entry.get("details") or {},
                        "model_info": entry.get("model_info") or {},
                    },
                    [
                        {
                            "node_id": n["node_id"],
                            "name": n["name"],
                            "free_ram": n["free_ram"],
                            "free_vram": n["free_vram"],
                            "online": True,
                        }
                        for n in online
                    ],
                    size_bytes=entry.get("size") or None,
                ).as_dict()
            except ValueError as exc:
                verdict = {"verdict": "unknown", "reason": str(exc)}
            models.append({k: v for k, v in entry.items() if k != "model_info"} | {"plan": verdict})
        return {"models": models, "count": len(models)}

    async def delete(self, name: str) -> dict[str, Any]:
        if not self.backend.snapshot.up:
            await self.backend.refresh()
            if not self.backend.snapshot.up:
                raise self.backend.down(self.backend.snapshot.reason)
        await self.backend.delete(name)
        await self.refresh()
        self.ctx.bus.publish("llm.model.deleted", {"model": name})
        return {"model": name, "deleted": True}


def _free_memory(sample: dict[str, Any] | None) -> dict[str, int]:
    try:
        free_ram = int(sample["memory"]["available"]) if sample else 0
        free_vram = sum(int(g["memory_free"]) for g in sample.get("gpus") or []) if sample else 0
    except (KeyError, TypeError, ValueError):
        free_ram = free_vram = 0
    return {"free_ram": free_ram, "free_vram": free_vram}
