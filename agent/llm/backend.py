"""This node's Ollama, through the official `ollama` async client.

Ollama being down or absent is a normal state, not an error: `state` says `up` or `down` with
the reason, callers get `BackendDown` (answered as 503 LLM_BACKEND_UNAVAILABLE), and a monitor
notices when it comes back. What the service offers (version, models with the facts the
planner needs, loaded models) is kept in `snapshot` for the status endpoint and heartbeats.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import ollama

from agent.core.capabilities import MAX_REASON, LlmCapability, LoadedModel, ModelFacts
from agent.core.errors import NotFound, ServiceUnavailable

log = logging.getLogger("openfabric.llm")


class BackendDown(ServiceUnavailable):
    code = "LLM_BACKEND_UNAVAILABLE"


def _arch_value(info: dict[str, Any], key: str) -> Any:
    arch = info.get("general.architecture")
    return info.get(f"{arch}.{key}") if arch else None


def model_facts(name: str, size: int, show: dict[str, Any]) -> ModelFacts:
    """The compact description of a local model that members exchange."""
    details = show.get("details") or {}
    info = show.get("modelinfo") or show.get("model_info") or {}
    keep = ("general.architecture", "general.parameter_count")
    arch_keys = (
        "block_count",
        "context_length",
        "embedding_length",
        "attention.head_count",
        "attention.head_count_kv",
        "vocab_size",
    )
    model_info = {k: info[k] for k in keep if k in info}
    arch = info.get("general.architecture")
    for key in arch_keys:
        value = _arch_value(info, key)
        if value is not None and arch:
            model_info[f"{arch}.{key}"] = value
    return ModelFacts(
        name=name,
        size=size,
        family=details.get("family"),
        parameter_size=details.get("parameter_size"),
        quantization=details.get("quantization_level"),
        context_length=_arch_value(info, "context_length"),
        details={k: details.get(k) for k in ("family", "parameter_size", "quantization_level")},
        model_info=model_info,
    )


@dataclass
class Snapshot:
    up: bool = False
    reason: str = "not checked yet"
    version: str | None = None
    models: list[ModelFacts] = field(default_factory=list)
    loaded: list[LoadedModel] = field(default_factory=list)
    checked_at: float | None = None

    def capability(self) -> LlmCapability:
        """What heartbeats carry; the reason is cut to what members accept."""
        return LlmCapability(
            up=self.up,
            reason=None if self.up else self.reason[:MAX_REASON],
            version=self.version,
            models=self.models,
            loaded=self.loaded,
            checked_at=self.checked_at,
        )


class OllamaBackend:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.client = ollama.AsyncClient(host=self.url, timeout=timeout)
        self._http = httpx.AsyncClient(base_url=self.url, timeout=5, trust_env=False)
        self.snapshot = Snapshot()
        self._facts: dict[str, ModelFacts] = {}  # by digest: show() is not free

    async def close(self) -> None:
        """Close both connection pools; callers must have ended every use of them first."""
        await self._http.aclose()
        await self.client.close()  # type: ignore[no-untyped-call]  # ollama leaves it unannotated

    def down(self, reason: str) -> BackendDown:
        return BackendDown(
            f"Ollama at {self.url} is not available: {reason}",
            details={"ollama_url": self.url, "reason": reason},
        )

    async def refresh(self) -> Snapshot:
        """Ask Ollama what it is and has; never raises."""
        try:
            about = (await self._http.get("/api/version")).json()
            tags = await self.client.list()
            running = await self.client.ps()
            # Built (and validated) in here: an answer the capability models refuse makes
            # Ollama count as down, with the reason, rather than stopping the monitor.
            models = [await self._describe(m) for m in tags.models]
            loaded = [_loaded(m) for m in running.models]
        except (httpx.HTTPError, ollama.ResponseError, ValueError, OSError) as exc:
            self.snapshot = Snapshot(up=False, reason=_reason(exc), checked_at=time.time())
            return self.snapshot
        version = about.get("version") if isinstance(about, dict) else None
        self.snapshot = Snapshot(
            up=True,
            reason="",
            version=version if isinstance(version, str) else None,
            models=models,
            loaded=loaded,
            checked_at=time.time(),
        )
        return self.snapshot

    async def _describe(self, model: ollama.ListResponse.Model) -> ModelFacts:
        name = model.model or ""
        key = f"{name}@{model.digest}"
        if key not in self._facts:
            show = (await self.client.show(name)).model_dump(by_alias=True)
            self._facts[key] = model_facts(name, int(model.size or 0), show)
        return self._facts[key]

    async def delete(self, name: str) -> None:
        try:
            await self.client.delete(name)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise NotFound(
                    f"no model {name!r} on this node",
                    code="MODEL_NOT_FOUND",
                    details={"model": name},
                ) from None
            raise self.down(exc.error) from None
        except (httpx.HTTPError, OSError) as exc:
            raise self.down(_reason(exc)) from None


def _loaded(model: ollama.ProcessResponse.Model) -> LoadedModel:
    return LoadedModel(
        name=model.model or "",
        size=model.size or 0,
        size_vram=model.size_vram or 0,
        expires_at=str(model.expires_at) if model.expires_at else None,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return "connection refused (is Ollama running?)"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, ollama.ResponseError):
        return f"{exc.status_code}: {exc.error}"
    return f"{type(exc).__name__}: {exc}"
