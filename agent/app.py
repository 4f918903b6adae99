"""Composition root: `create_app(settings)` wires the core and every subsystem.

The lifespan opens the database, starts subsystems in order inside one task group, and on
shutdown, in reverse order, ends each subsystem's background tasks and then stops it; then it
closes the bus (ending every SSE stream) and the database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from agent import __version__
from agent.brain.subsystem import create as create_brain
from agent.cluster.subsystem import ClusterSubsystem
from agent.cluster.subsystem import create as create_cluster
from agent.core import auth, sse
from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.errors import EXCEPTION_HANDLERS
from agent.core.headers import SecurityHeaders
from agent.core.home import secure_home
from agent.core.metrics import Metrics
from agent.core.middleware import ErrorBoundary
from agent.core.security import LocalSecurity, cookie_name, load_or_create_token
from agent.core.sessions import SessionStore
from agent.core.subsystem import Context, ServesPeers, Subsystem
from agent.dashboard import routes as dashboard_routes
from agent.dashboard import with_pages
from agent.discovery.subsystem import create as create_discovery
from agent.flows.subsystem import create as create_flows
from agent.llm.subsystem import create as create_llm
from agent.mcp.subsystem import create as create_mcp
from agent.memory.subsystem import create as create_memory
from agent.ops.subsystem import create as create_ops
from agent.peer.identity import load_or_create_identity
from agent.peer.listener import create_peer_app
from agent.pulse.subsystem import create as create_pulse
from agent.settings import Settings
from agent.storage.subsystem import create as create_storage
from agent.tasks.subsystem import create as create_tasks
from agent.telemetry.subsystem import create as create_telemetry

log = logging.getLogger("openfabric")
STOP_TIMEOUT = 1.0


def build_context(settings: Settings) -> Context:
    home = settings.home
    secure_home(home)
    return Context(
        settings=settings,
        db=Database(home / "fabric.db"),
        bus=EventBus(ring_size=settings.event_ring_size, queue_size=settings.sse_queue_size),
        metrics=Metrics(),
        identity=load_or_create_identity(home),
        version=__version__,
    )


def build_subsystems(ctx: Context) -> tuple[list[Subsystem], ClusterSubsystem]:
    """Every subsystem, in start order (stopped in reverse).

    Telemetry comes first: it provides `ctx.telemetry`. The cluster comes next: it provides
    `ctx.cluster`, which every later one reads. The brain provides `ctx.knowledge` and
    `ctx.encoder` (memory encodes with it); memory provides `ctx.memory` (the chat recalls
    with it) and mcp `ctx.tools` (the chat calls them), both before the llm starts; stopped
    after it, so a chat's tool call never finds its server gone. Pulse provides `ctx.notices`
    before flows start (a notify step raises a card); flows stop first, so no run outlives
    what its steps call. The rest only use what `ctx` carries.
    """
    telemetry = create_telemetry(ctx)
    cluster = create_cluster(ctx)
    discovery = create_discovery(ctx)
    tasks = create_tasks(ctx)
    storage = create_storage(ctx)
    brain = create_brain(ctx)
    memory = create_memory(ctx)
    mcp = create_mcp(ctx)
    llm = create_llm(ctx)
    pulse = create_pulse(ctx)
    flows = create_flows(ctx)
    ops = create_ops(ctx)
    ordered: list[Subsystem] = [telemetry, cluster, discovery, tasks, storage, brain]
    ordered += [memory, mcp, llm, pulse, flows, ops]
    return ordered, cluster


def create_app(settings: Settings, dashboard_dir: Path | None = None) -> Starlette:
    ctx = build_context(settings)
    subsystems, cluster = build_subsystems(ctx)
    token = load_or_create_token(settings.home) if settings.auth == "token" else None
    sessions = (
        None
        if token is None
        else SessionStore(
            cookie_name(settings.port),
            idle_ttl=settings.session_idle_timeout,
            code_ttl=settings.login_code_ttl,
        )
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ctx.db.open()
        started: list[Subsystem] = []
        try:
            async with anyio.create_task_group() as tg:
                ctx.task_group = tg
                try:
                    for subsystem in subsystems:
                        await subsystem.start()
                        started.append(subsystem)
                    log.info("agent %s ready (node %s)", __version__, ctx.identity.node_id)
                    yield
                finally:
                    await _stop_all(ctx, started)
                    ctx.bus.close()
                    tg.cancel_scope.cancel()
        finally:
            await ctx.peers.close()
            await ctx.db.close()

    routes: list[BaseRoute] = [*sse.routes(), *auth.routes()]
    for subsystem in subsystems:
        routes.extend(subsystem.routes())
    routes.extend(dashboard_routes(dashboard_dir))

    app = Starlette(
        routes=routes,
        middleware=[
            # Outermost, so error answers from the layers below get the headers too.
            Middleware(SecurityHeaders),
            Middleware(ErrorBoundary, metrics=ctx.metrics),
            Middleware(
                LocalSecurity, token=token, port_of=lambda: settings.port, sessions=sessions
            ),
        ],
        exception_handlers={
            **EXCEPTION_HANDLERS,
            HTTPException: with_pages(dashboard_dir, EXCEPTION_HANDLERS[HTTPException]),
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.ctx = ctx
    app.state.bus = ctx.bus
    app.state.db = ctx.db
    app.state.metrics = ctx.metrics
    app.state.subsystems = {s.name: s for s in subsystems}
    peer_routes = [r for s in subsystems if isinstance(s, ServesPeers) for r in s.peer_routes()]
    app.state.peer_app = create_peer_app(
        peer_routes,
        key_of=cluster.peer_key_of,
        nonces=cluster.nonces,
        metrics=ctx.metrics,
    )
    app.state.peer_app.state.settings = settings
    ctx.metrics.gauge_callback(
        "sse_subscribers", "Connected event-stream clients", lambda: ctx.bus.subscriber_count
    )
    ctx.metrics.counter_callback(
        "events_published", "Events published on the bus", lambda: ctx.bus.published_total
    )
    ctx.metrics.counter_callback(
        "events_dropped",
        "Events dropped because a subscriber was too slow",
        lambda: ctx.bus.dropped_total,
    )
    return app


async def _stop_all(ctx: Context, started: list[Subsystem]) -> None:
    for subsystem in reversed(started):
        # Its background tasks end first: stop() closes the clients and files they use.
        with anyio.move_on_after(STOP_TIMEOUT, shield=True) as scope:
            await ctx.jobs.cancel(subsystem.name)
        if scope.cancelled_caught:
            log.warning(
                "background tasks of %s did not end within %.1fs: %s",
                subsystem.name,
                STOP_TIMEOUT,
                ", ".join(ctx.jobs.running(subsystem.name)),
            )
        with anyio.move_on_after(STOP_TIMEOUT, shield=True) as scope:
            try:
                await subsystem.stop()
            except Exception:
                log.exception("subsystem %s failed to stop cleanly", subsystem.name)
        if scope.cancelled_caught:
            log.warning("subsystem %s did not stop within %.1fs", subsystem.name, STOP_TIMEOUT)
