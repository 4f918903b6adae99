"""GpuReader with a fake NVML module (the real library has no driver on this machine)."""

from __future__ import annotations

import time
from pathlib import Path

from telemetry_fakes import GIB, FakeClock, FakeNvml, two_gpus

from agent.telemetry.gpu import GpuReader
from agent.telemetry.sampler import HostSampler

GPU_KEYS = {
    "index",
    "name",
    "uuid",
    "utilization_percent",
    "memory_total",
    "memory_used",
    "memory_free",
    "temperature_c",
    "power_w",
    "power_limit_w",
}


def test_two_devices_with_converted_units(fake_nvml: FakeNvml) -> None:
    # Compared as the JSON they travel as (events, heartbeats, the API).
    gpus = [gpu.model_dump(mode="json") for gpu in GpuReader(fake_nvml).read()]

    assert len(gpus) == 2
    first, second = gpus
    assert set(first) == GPU_KEYS
    assert first == {
        "index": 0,
        "name": "NVIDIA RTX 4090",  # bytes from older bindings are decoded
        "uuid": "GPU-aaaa",
        "utilization_percent": 37.0,
        "memory_total": 24 * GIB,
        "memory_used": 6 * GIB,
        "memory_free": 18 * GIB,
        "temperature_c": 61.0,
        "power_w": 75.5,  # from milliwatts
        "power_limit_w": 450.0,
    }
    assert second["index"] == 1
    assert second["name"] == "Tesla T4"
    assert second["utilization_percent"] == 0.0
    assert second["temperature_c"] is None  # NotSupported
    assert second["power_w"] is None
    assert second["power_limit_w"] == 70.0
    assert isinstance(first["utilization_percent"], float)
    assert isinstance(first["temperature_c"], float)


def test_nvml_is_initialised_once(fake_nvml: FakeNvml) -> None:
    reader = GpuReader(fake_nvml)
    for _ in range(5):
        reader.read()
    assert fake_nvml.init_calls == 1
    assert reader.available


def test_no_driver_means_no_gpus_and_no_retry_every_sample(absent_nvml: FakeNvml) -> None:
    clock = FakeClock(0.0)
    reader = GpuReader(absent_nvml, retry_after=300.0, monotonic=clock)

    for _ in range(10):
        assert reader.read() == []
        clock.advance(1.0)
    assert absent_nvml.init_calls == 1
    assert not reader.available

    clock.advance(300.0)
    assert reader.read() == []
    assert absent_nvml.init_calls == 2


def test_driver_appearing_later_is_picked_up_on_retry(absent_nvml: FakeNvml) -> None:
    clock = FakeClock(0.0)
    reader = GpuReader(absent_nvml, retry_after=60.0, monotonic=clock)
    assert reader.read() == []
    absent_nvml.driver = True
    absent_nvml.devices = two_gpus()
    clock.advance(61.0)
    assert len(reader.read()) == 2
    assert reader.available


def test_real_pynvml_without_a_driver_gives_a_list_without_raising() -> None:
    reader = GpuReader()
    gpus = reader.read()
    assert isinstance(gpus, list)
    reader.shutdown()
    assert reader.read() == []


def test_shutdown_releases_nvml_once_and_only_if_initialised(
    fake_nvml: FakeNvml, absent_nvml: FakeNvml
) -> None:
    reader = GpuReader(fake_nvml)
    reader.read()
    reader.shutdown()
    reader.shutdown()
    assert fake_nvml.shutdown_calls == 1
    assert reader.read() == []  # closed: no re-initialisation after shutdown
    assert fake_nvml.init_calls == 1

    unused = GpuReader(absent_nvml)
    unused.shutdown()
    assert absent_nvml.shutdown_calls == 0


def test_sample_carries_the_gpus(tmp_path: Path, fake_nvml: FakeNvml) -> None:
    sampler = HostSampler(
        node_id="n",
        home=tmp_path,
        node_name="",
        agent_version="t",
        started_at=time.time(),
        gpu=GpuReader(fake_nvml),
    )
    sample = sampler.collect()
    assert [g.uuid for g in sample.gpus] == ["GPU-aaaa", "GPU-bbbb"]
    sampler.close()
    assert fake_nvml.shutdown_calls == 1
