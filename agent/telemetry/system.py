"""What a node is: host and OS facts that do not change while the agent runs."""

from __future__ import annotations

import logging
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

log = logging.getLogger("openfabric.telemetry")

T = TypeVar("T")

OS_RELEASE = (Path("/etc/os-release"), Path("/usr/lib/os-release"))


@dataclass(frozen=True)
class StaticInfo:
    os: str
    os_release: str
    os_pretty: str
    arch: str
    python: str
    count_logical: int
    count_physical: int | None
    boot_time: float


def load_static_info() -> StaticInfo:
    """Read once per agent run; every part degrades on its own instead of failing the lot."""
    return StaticInfo(
        os=platform.system(),
        os_release=platform.release(),
        os_pretty=_or_default(os_pretty_name, platform.platform()),
        arch=platform.machine(),
        python=platform.python_version(),
        count_logical=_or_default(lambda: psutil.cpu_count() or 1, 1),
        count_physical=_or_default(lambda: psutil.cpu_count(logical=False), None),
        boot_time=_or_default(lambda: float(psutil.boot_time()), 0.0),
    )


def _or_default(read: Callable[[], T], default: T) -> T:
    try:
        return read()
    except Exception as exc:
        log.debug("static host info unavailable: %s", exc)
        return default


def hostname() -> str:
    return socket.gethostname()


def os_pretty_name() -> str:
    """A human name for the OS: the distribution on Linux, the product name elsewhere."""
    system = platform.system()
    if system == "Linux":
        for path in OS_RELEASE:
            name = _pretty_from_os_release(path)
            if name:
                return name
    if system == "Darwin":
        version = platform.mac_ver()[0]
        if version:
            return f"macOS {version}"
    if system == "Windows":
        release, version = platform.release(), platform.version()
        return f"Windows {release} ({version})" if version else f"Windows {release}"
    return platform.platform()


def _pretty_from_os_release(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "PRETTY_NAME":
            return value.strip().strip("\"'") or None
    return None
