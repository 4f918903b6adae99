"""HostSampler against the real host (real psutil): schema, rates, degraded parts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from telemetry_fakes import FakeNvml

from agent.telemetry.counters import RateTracker
from agent.telemetry.cpu import busy_and_total, cpu_share
from agent.telemetry.disks import DiskReader, storage
from agent.telemetry.gpu import GpuReader
from agent.telemetry.models import TelemetrySample
from agent.telemetry.sampler import HostSampler

SECTIONS = {
    "ts",
    "node_id",
    "cpu",
    "memory",
    "swap",
    "disks",
    "storage",
    "disk_io",
    "network",
    "gpus",
    "system",
}
CPU = {"percent", "per_core", "count_logical", "count_physical", "freq_mhz", "load"}
DISK = {"mountpoint", "device", "fstype", "total", "used", "free", "percent"}
DISK_IO = {"read_bytes_per_s", "write_bytes_per_s", "read_ops_per_s", "write_ops_per_s"}
NET = {
    "name",
    "rx_bytes_per_s",
    "tx_bytes_per_s",
    "rx_packets_per_s",
    "tx_packets_per_s",
    "rx_bytes_total",
    "tx_bytes_total",
    "up",
    "speed_mbps",
}
SYSTEM = {
    "hostname",
    "node_name",
    "os",
    "os_release",
    "os_pretty",
    "arch",
    "python",
    "agent_version",
    "boot_time",
    "uptime_s",
    "agent_uptime_s",
}
NET_RATES = ("rx_bytes_per_s", "tx_bytes_per_s", "rx_packets_per_s", "tx_packets_per_s")


def make_sampler(home: Path, nvml: Any, **kwargs: Any) -> HostSampler:
    return HostSampler(
        node_id="node-a",
        home=home,
        node_name=kwargs.pop("node_name", ""),
        agent_version="9.9.9",
        started_at=time.time() - 5,
        gpu=GpuReader(nvml),
        **kwargs,
    )


def test_sample_has_every_key_with_the_right_types(tmp_path: Path, absent_nvml: FakeNvml) -> None:
    # The shape is checked on the JSON form: that is what the bus, the API and heartbeats carry.
    sample = make_sampler(tmp_path, absent_nvml).collect().model_dump(mode="json")

    assert set(sample) == SECTIONS
    assert isinstance(sample["ts"], float)
    assert abs(sample["ts"] - time.time()) < 60
    assert sample["node_id"] == "node-a"

    cpu = sample["cpu"]
    assert set(cpu) == CPU
    assert 0.0 <= cpu["percent"] <= 100.0
    assert cpu["per_core"]
    assert all(isinstance(p, float) and 0.0 <= p <= 100.0 for p in cpu["per_core"])
    assert isinstance(cpu["count_logical"], int)
    assert cpu["count_logical"] >= 1
    assert cpu["count_physical"] is None or isinstance(cpu["count_physical"], int)
    assert cpu["freq_mhz"] is None or isinstance(cpu["freq_mhz"], float)
    assert len(cpu["load"]) == 3
    assert all(isinstance(x, float) for x in cpu["load"])

    assert set(sample["memory"]) == {"total", "available", "used", "percent"}
    assert sample["memory"]["total"] > 0
    assert isinstance(sample["memory"]["percent"], float)
    assert set(sample["swap"]) == {"total", "used", "free", "percent"}
    assert all(isinstance(v, int) for k, v in sample["swap"].items() if k != "percent")

    assert sample["disks"], "the host has at least one real filesystem"
    for disk in sample["disks"]:
        assert set(disk) == DISK
        assert isinstance(disk["total"], int)
        assert isinstance(disk["percent"], float)
    devices = [d["device"] for d in sample["disks"]]
    assert len(devices) == len(set(devices))

    assert sample["storage"]["path"] == str(tmp_path)
    assert sample["storage"]["total"] > 0
    assert sample["storage"]["free"] >= 0
    assert set(sample["storage"]) == {"path", "total", "used", "free"}

    assert sample["disk_io"] is None or set(sample["disk_io"]) == DISK_IO
    for nic in sample["network"]:
        assert set(nic) == NET
        assert isinstance(nic["up"], bool)
        assert isinstance(nic["speed_mbps"], int)
        assert isinstance(nic["rx_bytes_total"], int)
    assert "lo" not in {nic["name"] for nic in sample["network"]}

    assert sample["gpus"] == []

    system = sample["system"]
    assert set(system) == SYSTEM
    assert system["node_name"] == system["hostname"] != ""
    assert system["agent_version"] == "9.9.9"
    assert system["os"]
    assert system["os_pretty"]
    assert system["arch"]
    assert system["python"]
    assert system["uptime_s"] > 0
    assert 4 <= system["agent_uptime_s"] < 60
    assert isinstance(system["boot_time"], float)

    json.dumps(sample)  # goes on the bus and over HTTP as is
    # A member reading it (from a heartbeat) gets back the same sample.
    assert TelemetrySample.model_validate(sample).model_dump(mode="json") == sample


def test_node_name_setting_wins_over_hostname(tmp_path: Path, absent_nvml: FakeNvml) -> None:
    sample = make_sampler(tmp_path, absent_nvml, node_name="kitchen-pc").collect()
    assert sample.system.node_name == "kitchen-pc"


def test_rates_are_zero_first_then_non_negative(tmp_path: Path, absent_nvml: FakeNvml) -> None:
    sampler = make_sampler(tmp_path, absent_nvml)
    first = sampler.collect().model_dump(mode="json")
    (tmp_path / "blob").write_bytes(b"x" * 65536)  # some I/O between the two samples
    second = sampler.collect().model_dump(mode="json")

    if first["disk_io"] is not None:
        assert all(v == 0.0 for v in first["disk_io"].values())
    for nic in first["network"]:
        assert all(nic[k] == 0.0 for k in NET_RATES)

    if second["disk_io"] is not None:
        assert all(isinstance(v, float) and v >= 0.0 for v in second["disk_io"].values())
    for nic in second["network"]:
        assert all(isinstance(nic[k], float) and nic[k] >= 0.0 for k in NET_RATES)
    assert 0.0 <= second["cpu"]["percent"] <= 100.0


def test_rate_tracker_per_second_and_counter_reset() -> None:
    rates = RateTracker()
    assert rates.rates("a", 10.0, (100, 5)) == (0.0, 0.0)
    assert rates.rates("a", 12.0, (300, 9)) == (100.0, 2.0)
    assert rates.rates("a", 13.0, (0, 9)) == (0.0, 0.0)  # counter reset: no negative rate
    rates.rates("net:eth0", 13.0, (1,))
    rates.retain("net:", set())
    assert rates.rates("net:eth0", 14.0, (5,)) == (0.0,)  # forgotten: starts over
    assert rates.rates("a", 14.0, (50, 9)) == (50.0, 0.0)  # other prefixes kept


def test_cpu_share_from_cpu_times_deltas() -> None:
    before = busy_and_total(psutil.cpu_times())
    assert cpu_share(before, before) == 0.0
    assert cpu_share((10.0, 100.0), (40.0, 200.0)) == 30.0
    assert cpu_share(None, (25.0, 100.0)) == 25.0
    assert cpu_share((10.0, 100.0), (500.0, 100.0)) == 0.0  # no time passed


class Broken:
    def disks(self) -> list[Any]:
        raise OSError("filesystem table unreadable")


def test_a_failing_part_leaves_the_rest_of_the_sample(
    tmp_path: Path, absent_nvml: FakeNvml
) -> None:
    failed: list[str] = []
    sampler = make_sampler(tmp_path, absent_nvml, on_error=failed.append)
    sampler.filesystems = Broken()  # type: ignore[assignment]

    sample = sampler.collect().model_dump(mode="json")

    assert failed == ["disks"]
    assert sample["disks"] == []
    assert set(sample) == SECTIONS
    assert sample["memory"]["total"] > 0
    assert sample["storage"]["total"] > 0


def test_an_unreadable_filesystem_is_skipped_and_devices_deduplicated() -> None:
    real = psutil.disk_partitions(all=False)
    root = real[0]
    bogus = root._replace(device="/dev/gone", mountpoint="/nonexistent/openfabric-mount")
    again = root._replace(mountpoint=root.mountpoint)  # same device mounted twice (bind mount)

    disks = DiskReader(lambda: [bogus, *real, again]).disks()

    assert "/dev/gone" not in {d.device for d in disks}
    assert [d.device for d in disks].count(root.device) == 1
    assert {d.device for d in disks} == {d.device for d in DiskReader(lambda: real).disks()}


def test_partitions_are_listed_once_per_interval() -> None:
    calls: list[float] = []
    now = [0.0]

    def listing() -> list[Any]:
        calls.append(now[0])
        return psutil.disk_partitions(all=False)

    reader = DiskReader(listing, monotonic=lambda: now[0])
    for t in (0.0, 1.0, 29.0, 30.0, 31.0):
        now[0] = t
        reader.disks()
    assert calls == [0.0, 30.0]


def test_storage_of_a_home_not_created_yet(tmp_path: Path) -> None:
    home = tmp_path / "not" / "yet"
    info = storage(home)
    assert info.path == str(home)
    assert info.total == psutil.disk_usage(str(tmp_path)).total


@pytest.mark.parametrize("name", ["lo", "Loopback Pseudo-Interface 1"])
def test_loopback_names(name: str) -> None:
    from agent.telemetry.network import is_loopback

    assert is_loopback(name, None)
    assert not is_loopback("eth0", None)
