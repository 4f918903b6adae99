"""The telemetry sample, as the cluster view, CLI and dashboard read it.

Every key is always present; a part that could not be collected holds its empty value
(0, [] or None), never a missing key.
"""

from __future__ import annotations

from typing import TypedDict


class CpuInfo(TypedDict):
    percent: float
    per_core: list[float]
    count_logical: int
    count_physical: int | None
    freq_mhz: float | None
    load: list[float]


class MemoryInfo(TypedDict):
    total: int
    available: int
    used: int
    percent: float


class SwapInfo(TypedDict):
    total: int
    used: int
    free: int
    percent: float


class DiskInfo(TypedDict):
    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


class StorageInfo(TypedDict):
    path: str
    total: int
    used: int
    free: int


class DiskIoInfo(TypedDict):
    read_bytes_per_s: float
    write_bytes_per_s: float
    read_ops_per_s: float
    write_ops_per_s: float


class NetworkInfo(TypedDict):
    name: str
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    rx_bytes_total: int
    tx_bytes_total: int
    up: bool
    speed_mbps: int


class GpuInfo(TypedDict):
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


class SystemInfo(TypedDict):
    hostname: str
    node_name: str
    os: str
    os_release: str
    os_pretty: str
    arch: str
    python: str
    agent_version: str
    boot_time: float
    uptime_s: float
    agent_uptime_s: float


class Sample(TypedDict):
    ts: float
    node_id: str
    cpu: CpuInfo
    memory: MemoryInfo
    swap: SwapInfo
    disks: list[DiskInfo]
    storage: StorageInfo
    disk_io: DiskIoInfo | None
    network: list[NetworkInfo]
    gpus: list[GpuInfo]
    system: SystemInfo


class Summary(TypedDict):
    """The compact form sent in heartbeats."""

    ts: float | None
    cpu_percent: float
    load: list[float]
    memory_total: int
    memory_available: int
    storage_total: int
    storage_free: int
    gpu_count: int
    vram_total: int
    vram_used: int
