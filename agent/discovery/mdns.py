"""The zeroconf side of discovery: one responder for our advert, one browser, resolutions.

`MdnsLink` knows nothing about members or the bus: it reports resolved adverts and removals
to the callbacks it is given. Browser callbacks arrive synchronously in the event loop; each
name is resolved in its own task (a name that changes while being resolved is resolved once
more afterwards), and a removal invalidates any resolution still in flight for that name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import anyio
import anyio.abc
from zeroconf import InterfaceChoice, NonUniqueNameException, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from agent.discovery.model import SERVICE_TYPE, Advert, advert_properties, host_name, instance_name

log = logging.getLogger("openfabric.discovery")
RESOLVE_TIMEOUT_MS = 3000
GOODBYE_TIMEOUT = 0.6
CLOSE_TIMEOUT = 0.3

OnResolved = Callable[[str, Mapping[bytes, bytes | None], list[str], int | None], Awaitable[object]]
OnRemoved = Callable[[str], None]


class MdnsLink:
    def __init__(self, on_resolved: OnResolved, on_removed: OnRemoved) -> None:
        self._on_resolved = on_resolved
        self._on_removed = on_removed
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._scope: anyio.CancelScope | None = None
        self._closed = False
        self._info: AsyncServiceInfo | None = None
        self._resolving: dict[str, bool] = {}  # name -> resolve again when done
        # zeroconf calls back from its datagram handler, outside any task, where nothing can
        # be spawned; names to resolve are queued to a worker task instead.
        self._to_resolve: asyncio.Queue[str] = asyncio.Queue()
        self._generation: dict[str, int] = {}
        self._conflict_logged = False

    @property
    def open(self) -> bool:
        return self._aiozc is not None

    def start_sockets(self) -> None:
        """Bind the mDNS sockets; raises OSError when the host has no usable interface."""
        self._aiozc = AsyncZeroconf(interfaces=InterfaceChoice.All)

    async def run(self, *jobs: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Browse until `close()`; resolutions and `jobs` run in this task's own task group."""
        if self._closed or self._aiozc is None:
            return
        self._scope = anyio.CancelScope()
        with self._scope:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._browser = AsyncServiceBrowser(
                    self._aiozc.zeroconf, [SERVICE_TYPE], handlers=[self._on_change]
                )
                for job in jobs:
                    tg.start_soon(job)
                while True:
                    name = await self._to_resolve.get()
                    tg.start_soon(self._resolve, name, name=f"discovery.resolve {name}")

    async def _register(self, info: AsyncServiceInfo) -> Any:
        # Instance names are node ids, derived from each node's own key, so no other agent
        # can hold ours: skipping the name probe (about 1.2 s) is safe and speeds discovery.
        assert self._aiozc is not None
        return await self._aiozc.async_register_service(info, cooperating_responders=True)

    def _on_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if self._info is not None and name.lower() == self._info.key:
            return  # ourselves
        if state_change is ServiceStateChange.Removed:
            self._generation[name] = self._generation.get(name, 0) + 1
            self._on_removed(name)
        else:
            self.resolve(name)

    def resolve(self, name: str) -> None:
        if self._tg is None:
            return
        if name in self._resolving:
            self._resolving[name] = True
            return
        self._resolving[name] = False
        self._to_resolve.put_nowait(name)

    async def _resolve(self, name: str) -> None:
        try:
            while (aiozc := self._aiozc) is not None:
                generation = self._generation.get(name, 0)
                info = AsyncServiceInfo(SERVICE_TYPE, name)
                if await info.async_request(aiozc.zeroconf, RESOLVE_TIMEOUT_MS) and (
                    generation == self._generation.get(name, 0)
                ):
                    await self._on_resolved(
                        name, info.properties, info.parsed_addresses(), info.port
                    )
                if not self._resolving.get(name):
                    return
                self._resolving[name] = False
        except Exception:
            log.exception("resolving %s failed", name)
        finally:
            self._resolving.pop(name, None)

    async def publish(self, advert: Advert, addresses: list[str]) -> None:
        """Register our service, or update it when what it says has changed."""
        if self._aiozc is None:
            return
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            instance_name(advert.node_id),
            port=advert.peer_port,
            properties=advert_properties(advert),
            server=host_name(advert.node_id),
            parsed_addresses=addresses,
        )
        current = self._info
        if current is not None and _same(current, info):
            return
        try:
            if current is None:
                await (await self._register(info))
            elif current.name != info.name:
                await (await self._aiozc.async_unregister_service(current))
                self._info = None
                await (await self._register(info))
            else:
                await (await self._aiozc.async_update_service(info))
        except NonUniqueNameException:
            if not self._conflict_logged:
                log.warning("another host already advertises %s; not advertising", info.name)
                self._conflict_logged = True
            return
        self._info = info
        log.info("advertising %s on %s port %d", info.name, ", ".join(addresses), info.port)

    async def update_interfaces(self) -> None:
        if self._aiozc is not None:
            await self._aiozc.async_update_interfaces()

    async def close(self) -> None:
        """Say goodbye, then close the sockets; returns within GOODBYE + CLOSE_TIMEOUT."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
        aiozc, self._aiozc = self._aiozc, None
        if aiozc is None:
            return
        if self._browser is not None:
            await self._browser.async_cancel()
        with anyio.move_on_after(GOODBYE_TIMEOUT, shield=True):
            await aiozc.async_unregister_all_services()
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True) as scope:
            # AsyncZeroconf.async_close() would first wait up to 1 s for a start that may
            # never come, then say goodbye again; the goodbyes are already sent.
            await aiozc.zeroconf._async_close()
        if scope.cancelled_caught:
            log.warning("zeroconf did not close within %.1fs", CLOSE_TIMEOUT)


def _same(a: AsyncServiceInfo, b: AsyncServiceInfo) -> bool:
    def key(info: AsyncServiceInfo) -> tuple[Any, ...]:
        return (info.name, info.port, info.properties, sorted(info.parsed_addresses()))

    return key(a) == key(b)
