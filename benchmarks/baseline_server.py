#!/usr/bin/env python3
"""The baseline the agent is compared with: a bare Starlette app with one JSON route.

It is served as `agent.server.serve` serves the agent: a socket bound here (port 0,
SO_REUSEADDR, backlog 2048) handed to `uvicorn.Server.run`, the same uvicorn version, the
default (auto) event loop and HTTP implementation, no access log, `log_config=None`, no
server header, no proxy headers, a 1 s graceful shutdown. It imports nothing from the agent,
so its memory is that of uvicorn + Starlette alone.

One deliberate difference: the socket is created with `IPPROTO_TCP`, as uvicorn's own
`loop.create_server(host, port)` creates it. asyncio turns Nagle's algorithm off
(TCP_NODELAY) on accepted connections only when the listening socket says `IPPROTO_TCP`;
with protocol 0, as `agent.server.bind` creates it, Nagle stays on and, because uvicorn
writes a response's headers and body separately, each keep-alive response waits for the
client's delayed ACK (~40 ms on Linux). The baseline is stock uvicorn, so the benchmark
shows that cost instead of copying it.

    python benchmarks/baseline_server.py --port-file FILE

binds 127.0.0.1:0, writes the bound port to FILE once it is listening, and serves its one
route, `GET /api/status` (a small JSON object), until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BODY = {"ok": True, "service": "baseline", "version": "0"}
PATH = "/api/status"


async def answer(request: Request) -> Response:
    return JSONResponse(BODY)


def create_app() -> Starlette:
    return Starlette(routes=[Route(PATH, answer, methods=["GET"])])


def bind_free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, port_file: Path, port: int) -> None:
        super().__init__(config)
        self.port_file = port_file
        self.port = port

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            tmp = self.port_file.with_suffix(".tmp")
            tmp.write_text(f"{self.port}\n", encoding="ascii")
            os.replace(tmp, self.port_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    sock = bind_free_port()
    config = uvicorn.Config(
        create_app(),
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=1.0,
        lifespan="on",
    )
    server = _Server(config, args.port_file, sock.getsockname()[1])
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":
    main()
