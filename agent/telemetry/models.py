"""The telemetry sample: what `node.telemetry` carries, what `/api/nodes/{id}/telemetry`
answers, and (as JSON) what heartbeats carry to the other members.

Every field is always present; a part that could not be collected holds its empty value
(0, [] or None), never a missing key. Byte counts are bytes, rates are per second.
"""

from __future__ import annotations

from pydantic import Field

from agent.core.wire import Answer


class CpuTelemetry(Answer):
    percent: float = Field(description="Busy share of all cores since the previous sample, 0-100")
    per_core: list[float] = Field(description="Busy share of each logical core, 0-100")
    count_logical: int
    count_physical: int | None
    freq_mhz: float | None = Field(description="Current frequency; None where it is unknown")
    load: list[float] = Field(description="Load averages over 1, 5 and 15 minutes")


class MemoryTelemetry(Answer):
    total: int
    available: int
    used: int
    percent: float


class SwapTelemetry(Answer):
    total: int
    used: int
    free: int
    percent: float


class DiskTelemetry(Answer):
    """One real filesystem (each device once)."""

    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


class StorageTelemetry(Answer):
    """The filesystem of the agent's home, which the cluster's storage pools."""

    path: str
    total: int
    used: int
    free: int


class DiskIoTelemetry(Answer):
    read_bytes_per_s: float
    write_bytes_per_s: float
    read_ops_per_s: float
    write_ops_per_s: float


class NetworkTelemetry(Answer):
    """One network interface (loopback left out)."""

    name: str
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    rx_bytes_total: int
    tx_bytes_total: int
    up: bool
    speed_mbps: int = Field(description="Link speed; 0 where it is unknown")


class GpuTelemetry(Answer):
    """One NVIDIA GPU; a reading the device does not support is None."""

    index: int
    name: str
    uuid: str
    utilization_percent: float | None
    memory_total: int
    memory_used: int
    memory_free: int
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None


class SystemTelemetry(Answer):
    hostname: str
    node_name: str = Field(description="The node_name setting, else the hostname")
    os: str
    os_release: str
    os_pretty: str = Field(description="A human name of the OS (the distribution on Linux)")
    arch: str
    python: str
    agent_version: str
    boot_time: float = Field(description="Unix time the host booted; 0 where it is unknown")
    uptime_s: float
    agent_uptime_s: float


class TelemetrySample(Answer):
    """One sample of a node, taken every `telemetry_interval` seconds."""

    ts: float = Field(description="Unix time the sample was taken")
    node_id: str
    cpu: CpuTelemetry
    memory: MemoryTelemetry
    swap: SwapTelemetry
    disks: list[DiskTelemetry]
    storage: StorageTelemetry
    disk_io: DiskIoTelemetry | None = Field(description="None where no disk counters exist")
    network: list[NetworkTelemetry]
    gpus: list[GpuTelemetry]
    system: SystemTelemetry


class TelemetryHistory(Answer):
    """A node's recent samples, oldest first."""

    node_id: str
    samples: list[TelemetrySample]
    count: int
