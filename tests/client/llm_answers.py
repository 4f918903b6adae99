"""What an agent answers to the SDK's LLM calls, and a MockTransport that records the
requests: shared by the SDK and CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from agent.client import (
    AgentClient,
)

NODE = "n1" * 12
GIB = 2**30
SESSION = {
    "session_id": "s0123456789abcdef",
    "title": "about foxes",
    "model": "qwen2.5:0.5b",
    "created_at": 1700000000.0,
    "updated_at": 1700000100.0,
    "message_count": 2,
}
STATUS = {
    "node_id": NODE,
    "ollama_url": "http://127.0.0.1:11434",
    "up": True,
    "reason": None,
    "version": "0.6.5",
    "models": [
        {
            "name": "qwen2.5:0.5b",
            "size": 397_821_319,
            "family": "qwen2",
            "parameter_size": "494.03M",
            "quantization": "Q4_K_M",
            "context_length": 32768,
            "details": {"family": "qwen2", "parameter_size": "494.03M"},
            "model_info": {"general.architecture": "qwen2", "qwen2.block_count": 24},
        }
    ],
    "loaded": [],
    "checked_at": 1700000000.0,
}
ESTIMATES = {
    "weights_bytes": 397_821_319,
    "weights_source": "disk",
    "bits_per_weight": 4.85,
    "embedding_bytes": 1,
    "per_layer_bytes": 2,
    "kv_cache_bytes": 3,
    "kv_per_layer_bytes": 4,
    "context_length": 8192,
    "layers": 24,
    "overhead_bytes": 5,
    "total_bytes": 6,
    "assumptions": ["weights = size on disk"],
    "warnings": [],
}
CATALOG = {
    "models": [
        {
            "name": "qwen2.5:0.5b",
            "size": 397_821_319,
            "family": "qwen2",
            "parameter_size": "494.03M",
            "quantization": "Q4_K_M",
            "context_length": 32768,
            "details": {"family": "qwen2"},
            "nodes": [{"node_id": NODE, "name": "laptop", "state": "online"}],
            "plan": {
                "verdict": "single_node",
                "estimates": ESTIMATES,
                "fits_on": [
                    {
                        "node_id": NODE,
                        "name": "laptop",
                        "usable_bytes": 10 * GIB,
                        "headroom_bytes": 9 * GIB,
                        "vram_only": False,
                    }
                ],
                "shards": [],
                "shortfall_bytes": 0,
            },
        },
        {
            "name": "odd:1b",
            "size": 0,
            "family": None,
            "parameter_size": None,
            "quantization": None,
            "context_length": None,
            "details": {},
            "nodes": [{"node_id": NODE, "name": "laptop", "state": "online"}],
            "plan": {"verdict": "unknown", "reason": "cannot estimate weights"},
        },
    ],
    "count": 2,
}
DONE = {
    "node_id": NODE,
    "model": "qwen2.5:0.5b",
    "prompt_tokens": 11,
    "completion_tokens": 2,
    "time_to_first_token_ms": 12.5,
    "tokens_per_s": 40.0,
    "done_reason": "stop",
    "session_id": None,
    "content": "hello there",
}


def sse(*events: tuple[str, Any]) -> bytes:
    text = ": keep-alive\n\n"
    for topic, data in events:
        text += f"event: {topic}\ndata: {json.dumps(data)}\n\n"
    return text.encode()


class Recorder:
    """A MockTransport handler answering each request with `answer(request)`."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> AgentClient:
        return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(self))

    @property
    def only(self) -> httpx.Request:
        (request,) = self.requests
        return request

    @property
    def body(self) -> Any:
        return json.loads(self.only.content)


def answering(body: Any, status: int = 200) -> Recorder:
    return Recorder(lambda request: httpx.Response(status, json=body))


def streaming(*events: tuple[str, Any]) -> Recorder:
    headers = {"content-type": "text/event-stream"}
    return Recorder(lambda request: httpx.Response(200, content=sse(*events), headers=headers))


def error(code: str, message: str = "refused") -> dict[str, Any]:
    return {"success": False, "error": message, "error_code": code, "details": {"x": 1}}


# --- the pool ------------------------------------------------------------------------------


def by_path(answers: dict[str, Any]) -> Recorder:
    """Answers each request with the body for its method and path (`"GET /api/..."`)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[f"{request.method} {request.url.path}"])

    return Recorder(answer)
