"""Several "hosts" on one private LAN, made of Linux network namespaces, for multi-host tests.

`network(n)` creates n host namespaces, each with `lo` up and one veth (`eth0`) carrying an
address in a private 10.213.x.0/24 subnet, all plugged into a bridge that lives in its own
namespace. Nothing is created in the root namespace, so test traffic (multicast included)
never leaves these namespaces. On exit every process started with `Host.run` is stopped,
anything else still running inside the namespaces is killed, and the namespaces (with their
veths and the bridge) are deleted, also when the test failed.

    with network(3) as hosts:
        proc = hosts[0].run([sys.executable, "-m", "agent", ...], stdout=subprocess.PIPE)
        hosts[1].exec(["ping", "-c1", hosts[0].address])
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SUBNET_PREFIX = "10.213"
STOP_TIMEOUT = 5.0


class NetnsUnavailable(Exception):
    """This machine cannot create namespaces, veths or bridges (not root, no `ip`, no module)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        command = " ".join(["ip", *args])
        raise NetnsUnavailable(f"`{command}` failed: {result.stderr.strip() or result.returncode}")
    return result


@dataclass
class Host:
    name: str  # the namespace
    address: str  # IPv4 of eth0 inside it
    interface: str = "eth0"
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start `argv` inside this host; it is stopped when the network is torn down."""
        process = subprocess.Popen(self.command(argv), **popen_kwargs)
        self.processes.append(process)
        return process

    def exec(self, argv: Sequence[str], **run_kwargs: Any) -> subprocess.CompletedProcess[Any]:
        run_kwargs.setdefault("capture_output", True)
        run_kwargs.setdefault("text", True)
        run_kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(argv), **run_kwargs)


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be used here, or None when they can (tried for real)."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"ofprobe-{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", probe)
    except (NetnsUnavailable, OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    try:
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
        _ip("-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    except NetnsUnavailable as exc:
        return str(exc)
    finally:
        _ip("netns", "del", probe, check=False)
    return None


@contextmanager
def network(n: int, *, subnet: int | None = None) -> Iterator[list[Host]]:
    """n hosts on one bridged LAN `10.213.<subnet>.0/24` (random subnet unless given)."""
    if not 1 <= n <= 250:
        raise ValueError("between 1 and 250 hosts")
    tag = secrets.token_hex(3)
    third = secrets.randbelow(256) if subnet is None else subnet
    switch = f"of-{tag}-br"
    hosts = [Host(f"of-{tag}-h{i}", f"{SUBNET_PREFIX}.{third}.{i + 1}") for i in range(n)]
    created: list[str] = []
    try:
        _ip("netns", "add", switch)
        created.append(switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        for i, host in enumerate(hosts):
            _ip("netns", "add", host.name)
            created.append(host.name)
            _plug(switch, host, f"port{i}")
        yield hosts
    finally:
        for host in hosts:
            _stop_processes(host)
        for name in reversed(created):
            _kill_remaining(name)
            _ip("netns", "del", name, check=False)


def _plug(switch: str, host: Host, port: str) -> None:
    _ip(
        "-n",
        switch,
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        host.name,
    )
    _ip("-n", switch, "link", "set", port, "master", "br0")
    _ip("-n", switch, "link", "set", port, "up")
    inside = ("-n", host.name)
    _ip(*inside, "link", "set", "lo", "up")
    _ip(*inside, "link", "set", "eth0", "multicast", "on")
    _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
    _ip(*inside, "link", "set", "eth0", "up")
    _ip(*inside, "route", "add", "224.0.0.0/4", "dev", "eth0")


def _stop_processes(host: Host) -> None:
    for process in host.processes:
        if process.poll() is None:
            process.terminate()
    for process in host.processes:
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def _kill_remaining(namespace: str) -> None:
    """SIGKILL whatever still runs inside a namespace this module created."""
    pids = _ip("netns", "pids", namespace, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
