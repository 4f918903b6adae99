"""One discovery node for multi-host tests: `python -m tests.discovery.mdns_node --node-id X ...`.

Runs a real `DiscoveryService` for a fake advert (nobody is a member) and prints JSON lines
on stdout: `{"event": "started", "t": ...}` just before `start()`, `{"event": "ready"}` after
it, then every bus event as `{"event": "discovery.found", "t": ..., "agent": {...}}`.
Commands on stdin, one per line: `cluster <id>` changes the advertised cluster id and calls
`refresh_advert()` (answers `{"event": "refreshed"}`); `quit` or EOF stops (stdin that is not
a pipe is ignored). SIGTERM stops too; the last line is `{"event": "stopped", "stop_seconds": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.discovery.subsystem import Advert, DiscoveryService
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


async def read_commands(service: DiscoveryService, state: dict[str, str | None]) -> None:
    if not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        await anyio.sleep_forever()  # only pipes can be watched by the event loop
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "quit":
            return
        if command == "cluster":
            state["cluster_id"] = argument or None
            await service.refresh_advert()
            emit("refreshed", cluster_id=state["cluster_id"])


async def main(args: argparse.Namespace) -> None:
    home = Path(args.home)
    ctx = Context(
        settings=Settings(home=home, peer_port=args.peer_port, mdns=True),
        db=Database(home / "fabric.db"),
        bus=EventBus(),
        metrics=Metrics(),
        identity=load_or_create_identity(home),
        version="test",
    )
    state: dict[str, str | None] = {"cluster_id": args.cluster_id or None}

    def advert() -> Advert:
        return Advert(
            node_id=args.node_id,
            name=args.name or args.node_id,
            cluster_id=state["cluster_id"],
            peer_port=args.peer_port,
            fingerprint=ctx.identity.fingerprint,
            version="test",
        )

    service = DiscoveryService(ctx, advert=advert, is_member=lambda _: False)
    events = ctx.bus.subscribe(["discovery"])
    async with anyio.create_task_group() as tg:
        ctx.task_group = tg

        async def forward() -> None:
            async for event in events:
                emit(event.topic, agent=event.data)

        tg.start_soon(forward)
        emit("started")
        await service.start()
        emit("ready", mdns=service.enabled)
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as waiters:

                async def on_signal() -> None:
                    async for _ in signals:
                        waiters.cancel_scope.cancel()

                async def on_commands() -> None:
                    await read_commands(service, state)
                    waiters.cancel_scope.cancel()

                waiters.start_soon(on_signal)
                waiters.start_soon(on_commands)
        began = time.monotonic()
        await service.stop()
        emit("stopped", stop_seconds=time.monotonic() - began)
        tg.cancel_scope.cancel()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node-id", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--home", required=True)
    parser.add_argument("--peer-port", type=int, default=4893)
    parser.add_argument("--cluster-id", default="")
    return parser.parse_args(argv)


if __name__ == "__main__":
    anyio.run(main, parse_args(sys.argv[1:]))
