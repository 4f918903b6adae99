"""NVIDIA GPUs through NVML.

No driver (or no `pynvml`) is the normal case on most machines: `read()` then answers `[]`
and NVML initialisation is retried at most every `retry_after` seconds, not every sample.
A field a device does not support (NVMLError_NotSupported and friends) reads as None.
The NVML module is injectable so tests can stand in a fake with the same functions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from agent.telemetry.models import GpuTelemetry

log = logging.getLogger("openfabric.telemetry")

T = TypeVar("T")
RETRY_AFTER = 300.0


class GpuReader:
    def __init__(
        self,
        nvml: Any | None = None,
        *,
        retry_after: float = RETRY_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # The NVML module (pynvml, or a stand-in with its functions); None until loaded.
        self._nvml: Any = nvml
        self._retry_after = retry_after
        self._monotonic = monotonic
        # read() runs in worker threads and shutdown() may come from another one; NVML
        # must not be shut down under a read in progress.
        self._lock = threading.Lock()
        self._handles: list[tuple[int, Any, str, str]] | None = None
        self._next_attempt = 0.0
        self._reported = False
        self._closed = False

    @property
    def available(self) -> bool:
        return self._handles is not None

    def read(self) -> list[GpuTelemetry]:
        """Current state of every GPU; `[]` when NVML is unavailable or after `shutdown()`."""
        with self._lock:
            if self._closed or not self._ensure_init():
                return []
            assert self._handles is not None
            return [self._device(*entry) for entry in self._handles]

    def shutdown(self) -> None:
        """Release NVML if it was initialised; later reads answer `[]`."""
        with self._lock:
            self._closed = True
            if self._handles is None:
                return
            self._handles = None
            self._try_shutdown()

    def _ensure_init(self) -> bool:
        if self._handles is not None:
            return True
        now = self._monotonic()
        if now < self._next_attempt:
            return False
        self._next_attempt = now + self._retry_after
        try:
            if self._nvml is None:
                import pynvml  # imported lazily: loading it is wasted work on GPU-less nodes

                self._nvml = pynvml
            self._nvml.nvmlInit()
        except Exception as exc:
            if not self._reported:
                log.debug("NVML unavailable, reporting no GPUs: %s", exc)
                self._reported = True
            return False
        try:
            self._handles = self._enumerate()
        except Exception as exc:
            log.debug("NVML device enumeration failed: %s", exc)
            self._try_shutdown()
            return False
        return True

    def _enumerate(self) -> list[tuple[int, Any, str, str]]:
        nvml = self._nvml
        handles = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            # name and uuid never change while the driver is loaded, so read them once
            name = _text(self._field(nvml.nvmlDeviceGetName, handle)) or f"GPU {index}"
            uuid = _text(self._field(nvml.nvmlDeviceGetUUID, handle)) or ""
            handles.append((index, handle, name, uuid))
        return handles

    def _try_shutdown(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception as exc:
            log.debug("nvmlShutdown failed: %s", exc)

    def _device(self, index: int, handle: Any, name: str, uuid: str) -> GpuTelemetry:
        nvml = self._nvml
        util = self._field(nvml.nvmlDeviceGetUtilizationRates, handle)
        memory = self._field(nvml.nvmlDeviceGetMemoryInfo, handle)
        temp_sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
        temperature = self._field(nvml.nvmlDeviceGetTemperature, handle, temp_sensor)
        power_mw = self._field(nvml.nvmlDeviceGetPowerUsage, handle)
        limit_mw = self._field(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        return GpuTelemetry(
            index=index,
            name=name,
            uuid=uuid,
            utilization_percent=None if util is None else float(util.gpu),
            memory_total=0 if memory is None else int(memory.total),
            memory_used=0 if memory is None else int(memory.used),
            memory_free=0 if memory is None else int(memory.free),
            temperature_c=None if temperature is None else float(temperature),
            power_w=None if power_mw is None else power_mw / 1000.0,
            power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
        )

    def _field(self, call: Callable[..., T], *args: Any) -> T | None:
        try:
            return call(*args)
        except self._nvml.NVMLError as exc:
            log.debug("NVML %s failed: %s", getattr(call, "__name__", call), exc)
            return None


def _text(value: str | bytes | None) -> str | None:
    # nvidia-ml-py answers str, older pynvml releases bytes
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value
