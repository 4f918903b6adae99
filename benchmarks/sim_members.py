#!/usr/bin/env python3
"""Simulated cluster members that stream telemetry to one real agent (run by dashboard.py).

Each member is a real node identity (`agent.peer.identity`: its own Ed25519 key, so its own
node id) admitted through the real join protocol: it takes a single-use token from the
agent's local API, pins the agent's certificate by the token's fingerprint, and POSTs
`/api/cluster/join` to the agent's peer listener, signed with its key and carrying its own
signed node entry. Nothing is written to the agent's database by hand.

The agent calls its members back (heartbeats, table pushes, storage sync). So that those calls
succeed as they would in a real cluster, all members share one TLS certificate and one peer
listener in this process, served by the agent's own peer server stack
(`agent.peer.serving`). It answers `/peer/heartbeat` with the addressed member's latest
sample (the one that member already sent, so the agent sees nothing new) and the agent's own
membership digest (so it does not push its table back), `/peer/membership` with no table,
and anything else with 404. It does not verify the agent's signatures: the agent is what is
measured here, not its callers' defences.

Once every member is admitted, member i sends a signed `POST /peer/heartbeat` at i/N of every
second, each with a fresh TelemetrySample-shaped `telemetry` whose `cpu.percent` is a marker
unique per member over 900 beats: 10.0 + (seq % 900) / 10. Just before each send the wall time
is taken; every send is logged to `--log` as one JSON line `[node_id, seq, percent, sent_at,
status]`. When all members are online, `--ready` gets `{"members": [[node_id, name], ...]}`.
It runs until SIGTERM or SIGINT.

    .venv/bin/python benchmarks/sim_members.py --url URL --token-file FILE --workdir DIR \
        --log sends.jsonl --ready ready.json [--members 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# Off the path: benchmarks/mcp.py would shadow the SDK that the agent imports.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]
from agent import __version__
from agent.cluster import records
from agent.cluster.models import NodeBody
from agent.cluster.tokens import JoinToken, decode
from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
from agent.peer.identity import Identity, load_or_create_identity
from agent.peer.serving import PeerServer, guard_limits, peer_config
from agent.peer.tls import fetch_certificate
from agent.server import bind
from agent.telemetry.models import TelemetrySample

GIB = 1024**3
MARKERS = 900  # distinct cpu.percent markers per member: 10.0 .. 99.9
READY_TIMEOUT_S = 120.0


def marker(seq: int) -> float:
    return round(10.0 + (seq % MARKERS) / 10, 1)


@dataclass
class Member:
    identity: Identity
    name: str
    index: int
    client: PeerClient
    latest: dict[str, Any] | None = None
    seq: int = 0
    rng: random.Random = field(default_factory=random.Random)

    @property
    def node_id(self) -> str:
        return self.identity.node_id

    def sample(self, ts: float) -> dict[str, Any]:
        """A plausible sample of a 4-core, 8 GiB machine; cpu.percent is the marker."""
        rng, percent = self.rng, marker(self.seq)
        used = int(GIB * (2.5 + rng.random()))
        disk_used = 120 * GIB + self.index * GIB
        return {
            "ts": ts,
            "node_id": self.node_id,
            "cpu": {
                "percent": percent,
                "per_core": [round(min(100.0, percent * rng.uniform(0.6, 1.4)), 1)] * 4,
                "count_logical": 4,
                "count_physical": 2,
                "freq_mhz": 2400.0,
                "load": [round(percent / 25, 2), 0.8, 0.6],
            },
            "memory": {
                "total": 8 * GIB,
                "available": 8 * GIB - used,
                "used": used,
                "percent": round(100 * used / (8 * GIB), 1),
            },
            "swap": {"total": 2 * GIB, "used": 0, "free": 2 * GIB, "percent": 0.0},
            "disks": [
                {
                    "mountpoint": "/",
                    "device": "/dev/sda1",
                    "fstype": "ext4",
                    "total": 256 * GIB,
                    "used": disk_used,
                    "free": 256 * GIB - disk_used,
                    "percent": round(100 * disk_used / (256 * GIB), 1),
                }
            ],
            "storage": {
                "path": "/var/lib/openfabric",
                "total": 256 * GIB,
                "used": disk_used,
                "free": 256 * GIB - disk_used,
            },
            "disk_io": {
                "read_bytes_per_s": rng.uniform(0, 2e6),
                "write_bytes_per_s": rng.uniform(0, 4e6),
                "read_ops_per_s": rng.uniform(0, 50),
                "write_ops_per_s": rng.uniform(0, 80),
            },
            "network": [
                {
                    "name": "eth0",
                    "rx_bytes_per_s": rng.uniform(1e3, 1e6),
                    "tx_bytes_per_s": rng.uniform(1e3, 5e5),
                    "rx_packets_per_s": rng.uniform(10, 900),
                    "tx_packets_per_s": rng.uniform(10, 600),
                    "rx_bytes_total": 10**9 + self.seq * 500_000,
                    "tx_bytes_total": 5 * 10**8 + self.seq * 250_000,
                    "up": True,
                    "speed_mbps": 1000,
                }
            ],
            "gpus": [],
            "system": {
                "hostname": self.name,
                "node_name": self.name,
                "os": "Linux",
                "os_release": "6.1.0-18-amd64",
                "os_pretty": "Debian GNU/Linux 12 (bookworm)",
                "arch": "x86_64",
                "python": "3.11.2",
                "agent_version": __version__,
                "boot_time": ts - 86_400 - self.index * 600,
                "uptime_s": 86_400 + self.index * 600,
                "agent_uptime_s": 3_600.0 + self.seq,
            },
        }


def make_identities(workdir: Path, n: int) -> list[Identity]:
    """n node keys; every member reuses the first one's TLS key and certificate."""
    first = load_or_create_identity(workdir / "m00")
    found = [first]
    for i in range(1, n):
        folder = workdir / f"m{i:02d}" / "identity"
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("tls.key", "tls.crt"):
            shutil.copyfile(first.tls_cert_path.parent / name, folder / name)
        found.append(load_or_create_identity(workdir / f"m{i:02d}"))
    return found


def listener_app(members: dict[str, Member]) -> Starlette:
    async def heartbeat(request: Request) -> JSONResponse:
        member = members.get(request.headers.get("x-fabric-receiver", ""))
        body = json.loads(await request.body() or b"{}")
        return JSONResponse(
            {
                "telemetry": member.latest if member else None,
                "capabilities": {},
                "membership": body.get("membership") or {},
            }
        )

    async def membership(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"cluster_id": None, "records": [], "nodes": []})

    async def other(request: Request) -> JSONResponse:
        error = {"success": False, "error": "not simulated", "error_code": "NOT_FOUND"}
        return JSONResponse(error, status_code=404)

    return Starlette(
        routes=[
            Route("/peer/heartbeat", heartbeat, methods=["POST"]),
            Route("/peer/membership", membership, methods=["POST"]),
            Route("/{rest:path}", other, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )


async def join(member: Member, token: JoinToken, target: PeerTarget, port: int) -> None:
    identity = member.identity
    body = NodeBody(
        kind="node",
        node_id=identity.node_id,
        public_key=identity.public_key_b64,
        name=member.name,
        fingerprint=identity.fingerprint,
        cert_pem=identity.tls_cert_path.read_text(),
        addresses=["127.0.0.1"],
        peer_port=port,
        version=__version__,
        seq=1,
        at=int(time.time() * 1000),
    )
    payload = {
        "token_id": token.token_id,
        "secret": token.secret,
        "cluster_id": token.cluster_id,
        "node": records.sign_node(identity, body).wire(),
    }
    response = await member.client.request(
        target, "POST", "/api/cluster/join", json_body=payload, timeout=30
    )
    if response.status_code != 200:
        raise RuntimeError(f"{member.name} was not admitted: {response.text[:300]}")


async def beat_forever(
    member: Member, target: PeerTarget, count: int, base: float, log: IO[str]
) -> None:
    due = base + member.index / count
    while True:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        member.seq += 1
        sample = member.sample(time.time())
        member.latest = sample
        body = {"telemetry": sample, "capabilities": {}, "membership": {}}
        sent = time.time()
        try:
            response = await member.client.request(
                target, "POST", "/peer/heartbeat", json_body=body, timeout=5
            )
            status = response.status_code
        except (PeerUnreachable, OSError):
            status = 0
        log.write(json.dumps([member.node_id, member.seq, marker(member.seq), sent, status]))
        log.write("\n")
        # A beat that overran its slot is not made up for: one in flight per member.
        due = max(due + 1.0, time.monotonic())


async def online_count(local: httpx.AsyncClient) -> int:
    status = (await local.get("/api/status")).json()
    return int(status.get("online_count") or 0)


async def admit(
    members: dict[str, Member], local: httpx.AsyncClient, port: int, stop: asyncio.Event
) -> PeerTarget | None:
    """Join every member, one token each; answers the agent as a peer (None if stopped)."""
    target: PeerTarget | None = None
    for member in members.values():
        if stop.is_set():
            return None
        answer = await local.get("/api/cluster/join-token")
        answer.raise_for_status()
        token = decode(answer.json()["token"])
        if target is None:
            pem = await fetch_certificate(token.addresses[0], token.peer_port, token.fingerprint)
            target = PeerTarget(token.issuer, token.addresses, token.peer_port, pem)
        await join(member, token, target, port)
    return target


async def stream(
    args: argparse.Namespace,
    members: dict[str, Member],
    local: httpx.AsyncClient,
    target: PeerTarget,
    stop: asyncio.Event,
) -> None:
    with args.log.open("w", encoding="utf-8", buffering=1) as log:
        base = time.monotonic() + 0.2
        beats = [
            asyncio.create_task(beat_forever(m, target, len(members), base, log))
            for m in members.values()
        ]
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while await online_count(local) < len(members) + 1 and not stop.is_set():
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulated members did not all come online")
                await asyncio.sleep(0.1)
            ready = {"members": [[m.node_id, m.name] for m in members.values()]}
            tmp = args.ready.with_suffix(".tmp")
            tmp.write_text(json.dumps(ready), encoding="utf-8")
            tmp.replace(args.ready)
            await stop.wait()
        finally:
            for task in beats:
                task.cancel()
            await asyncio.gather(*beats, return_exceptions=True)


async def run(args: argparse.Namespace, stop: asyncio.Event) -> None:
    identities = make_identities(args.workdir, args.members)
    members = {
        ident.node_id: Member(ident, f"sim-{i + 1:02d}", i, PeerClient(ident), rng=random.Random(i))
        for i, ident in enumerate(identities)
    }
    TelemetrySample.model_validate(next(iter(members.values())).sample(time.time()))
    sock = bind("127.0.0.1", 0)
    cert, key = identities[0].tls_cert_path, identities[0].tls_key_path
    config = peer_config(listener_app(members), str(cert), str(key), log_config=None)
    server = PeerServer(config, guard_limits(4096, 4096, 10.0, None))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    token = args.token_file.read_text(encoding="ascii").strip()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=30) as local:
            target = await admit(members, local, sock.getsockname()[1], stop)
            if target is not None:
                await stream(args, members, local, target, stop)
    finally:
        for member in members.values():
            await member.client.close()
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


async def amain(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    await run(args, stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the agent's local API")
    parser.add_argument("--token-file", type=Path, required=True, help="the agent's local.token")
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--workdir", type=Path, required=True, help="where identities go")
    parser.add_argument("--log", type=Path, required=True, help="one JSON line per send")
    parser.add_argument("--ready", type=Path, required=True, help="written once all are online")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
