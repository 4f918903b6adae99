"""Stand-ins for the telemetry tests: an NVML module without a GPU driver, and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any


@dataclass
class FakeDevice:
    name: str | bytes
    uuid: str
    util: int | None
    memory: tuple[int, int, int]  # total, used, free in bytes
    temperature: int | None
    power_mw: int | None
    limit_mw: int | None


class FakeNvml:
    """Stands in for the `pynvml` module: the functions GpuReader calls, with their units."""

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    class NVMLError_LibraryNotFound(NVMLError):
        pass

    def __init__(self, devices: list[FakeDevice], *, driver: bool = True) -> None:
        self.devices = devices
        self.driver = driver
        self.init_calls = 0
        self.shutdown_calls = 0

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if not self.driver:
            raise self.NVMLError_LibraryNotFound("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeDevice:
        return self.devices[index]

    def nvmlDeviceGetName(self, handle: FakeDevice) -> str | bytes:
        return handle.name

    def nvmlDeviceGetUUID(self, handle: FakeDevice) -> str:
        return handle.uuid

    def nvmlDeviceGetUtilizationRates(self, handle: FakeDevice) -> Any:
        return SimpleNamespace(gpu=self._supported(handle.util), memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeDevice) -> Any:
        total, used, free = handle.memory
        return SimpleNamespace(total=total, used=used, free=free)

    def nvmlDeviceGetTemperature(self, handle: FakeDevice, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return self._supported(handle.temperature)

    def nvmlDeviceGetPowerUsage(self, handle: FakeDevice) -> int:
        return self._supported(handle.power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeDevice) -> int:
        return self._supported(handle.limit_mw)

    def _supported(self, value: int | None) -> int:
        if value is None:
            raise self.NVMLError_NotSupported("Not Supported")
        return value


GIB = 1024**3


def two_gpus() -> list[FakeDevice]:
    return [
        FakeDevice(
            b"NVIDIA RTX 4090", "GPU-aaaa", 37, (24 * GIB, 6 * GIB, 18 * GIB), 61, 75500, 450000
        ),
        FakeDevice("Tesla T4", "GPU-bbbb", 0, (16 * GIB, 0, 16 * GIB), None, None, 70000),
    ]


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
