"""Flows' definitions: create, update, delete, toggle, list, read; and what members send.

Each local save is a new version signed by this node (a delete is a version too: a
tombstone), stored, announced to the members, published as `flow.changed`, and the triggers
re-armed. The flows are also kept in memory with their parsed definitions: the triggers, the
reference checks of `flow.run` and the engine read them there.
"""

from __future__ import annotations

import logging
from typing import Any

from agent.core.bus import EventBus
from agent.core.errors import BadRequest, Conflict, NotFound
from agent.flows.clock import Clock
from agent.flows.definition import FlowDefinition
from agent.flows.engine.plans import Target
from agent.flows.engine.runs import Runs
from agent.flows.events import FLOW_CHANGED, FlowChange, FlowChanged
from agent.flows.models import (
    Flow,
    FlowDeleted,
    FlowList,
    FlowSchema,
    SourceFormat,
)
from agent.flows.parse import DefinitionInvalid, definition_schema, parse_definition
from agent.flows.ports import ArmsTriggers, FlowsCluster
from agent.flows.records import FlowRecord, sign_record
from agent.flows.store import FlowStore
from agent.flows.triggers import ArmedFlow
from agent.flows.views import RESERVED_IDS, Loaded, flow_view, slug
from agent.peer.identity import Identity

log = logging.getLogger("openfabric")


def flow_missing(flow_id: str) -> NotFound:
    return NotFound(f"no flow {flow_id[:80]!r}", code="FLOW_NOT_FOUND")


def definition_json(definition: FlowDefinition) -> str:
    return definition.model_dump_json(by_alias=True)


def parse_record(record: FlowRecord) -> tuple[str, str] | None:
    """(name, definition JSON) of a record from a member: it was checked by its author, so
    only its own text is parsed (the flows it names may not have arrived yet)."""
    try:
        parsed = parse_definition(record.source, record.format, None, record.flow_id)
    except DefinitionInvalid as exc:
        log.warning("flow %s v%d does not parse here: %s", record.flow_id, record.version, exc)
        return None
    return parsed.definition.name, definition_json(parsed.definition)


class FlowService:
    def __init__(
        self,
        *,
        store: FlowStore,
        bus: EventBus,
        clock: Clock,
        identity: Identity,
        cluster: FlowsCluster,
        triggers: ArmsTriggers,
    ) -> None:
        self.store, self.bus, self.clock, self.identity = store, bus, clock, identity
        self.node_id = identity.node_id
        self.cluster, self.triggers = cluster, triggers
        self.runs: Runs | None = None
        self._flows: dict[str, Loaded] = {}
        store.use_definer(parse_record)

    def use_runs(self, runs: Runs) -> None:
        self.runs = runs

    @property
    def engine(self) -> Runs:
        if self.runs is None:
            raise RuntimeError("flows' engine starts with the subsystem")
        return self.runs

    async def load(self) -> None:
        for stored in await self.store.flows():
            self._cache(stored.record.flow_id, stored)
        self.cluster.on_owners_changed(self.rearm)

    def _cache(self, flow_id: str, stored: Any) -> Loaded | None:
        if stored is None or stored.record.deleted:
            self._flows.pop(flow_id, None)
            return None
        definition = None
        if stored.definition is not None:
            definition = FlowDefinition.model_validate_json(stored.definition)
        loaded = self._flows[flow_id] = Loaded(stored, definition)
        return loaded

    # Lookups ---------------------------------------------------------------------------

    def find(self, ref: str) -> Loaded | None:
        """A live flow by id, else by name."""
        if ref in self._flows:
            return self._flows[ref]
        return next((f for f in self._flows.values() if f.name == ref), None)

    def find_id(self, flow_id: str) -> Loaded | None:
        return self._flows.get(flow_id)

    def loaded(self, flow_id: str) -> Loaded:
        found = self._flows.get(flow_id)
        if found is None:
            raise flow_missing(flow_id)
        return found

    def _lookup(self, ref: str) -> FlowDefinition | None:
        found = self.find(ref)
        return found.definition if found else None

    def target(self, loaded: Loaded) -> Target:
        if loaded.definition is None:
            raise BadRequest(
                f"flow {loaded.flow_id} does not parse on this node", code="FLOW_INVALID"
            )
        return Target(
            flow_id=loaded.flow_id,
            version=loaded.stored.record.version,
            definition=loaded.definition,
            definition_json=loaded.stored.definition or definition_json(loaded.definition),
            foreign=loaded.stored.record.author != self.node_id,
        )

    async def find_target(self, ref: str) -> Target | None:
        found = self.find(ref)
        return self.target(found) if found and found.definition else None

    async def foreign_of(self, flow_id: str) -> bool:
        record = await self.store.record(flow_id)
        return record is None or record.author != self.node_id

    def owner(self, loaded: Loaded) -> str | None:
        runs_on = loaded.definition.runs_on if loaded.definition else None
        return self.cluster.owner_of(loaded.flow_id, runs_on)

    async def view(self, loaded: Loaded) -> Flow:
        return flow_view(
            loaded,
            owner=self.owner(loaded),
            next_at=self.triggers.next_at,
            last_run=await self.store.last_run(loaded.flow_id),
        )

    # Definitions -----------------------------------------------------------------------

    def _parse(self, text: str, fmt: SourceFormat, self_id: str | None) -> FlowDefinition:
        return parse_definition(text, fmt, self._lookup, self_id).definition

    async def create(self, text: str, fmt: SourceFormat) -> Flow:
        definition = self._parse(text, fmt, None)
        flow_id = slug(definition.name)
        if flow_id in RESERVED_IDS:
            raise _invalid("name", f"the name gives the id {flow_id!r}, which is reserved")
        definition = self._parse(text, fmt, flow_id)
        if flow_id in self._flows:
            raise Conflict(
                f"a flow with the id {flow_id!r} exists", code="FLOW_EXISTS",
                details={"id": flow_id},
            )  # fmt: skip
        held = await self.store.record(flow_id)
        version = held.version + 1 if held else 1
        return await self._save(flow_id, version, definition, text, fmt, definition.enabled,
                                "created")  # fmt: skip

    async def update(self, flow_id: str, text: str, fmt: SourceFormat) -> Flow:
        loaded = self.loaded(flow_id)
        definition = self._parse(text, fmt, flow_id)
        enabled = loaded.stored.record.enabled
        if loaded.definition is None or definition.enabled != loaded.definition.enabled:
            enabled = definition.enabled
        version = loaded.stored.record.version + 1
        return await self._save(flow_id, version, definition, text, fmt, enabled, "updated")

    async def toggle(self, flow_id: str, enabled: bool | None) -> Flow:
        loaded = self.loaded(flow_id)
        record = loaded.stored.record
        wanted = not record.enabled if enabled is None else enabled
        if wanted == record.enabled:
            return await self.view(loaded)
        definition = loaded.definition
        if definition is None:
            raise BadRequest(f"flow {flow_id} does not parse on this node", code="FLOW_INVALID")
        change: FlowChange = "enabled" if wanted else "disabled"
        return await self._save(flow_id, record.version + 1, definition, record.source,
                                record.format, wanted, change)  # fmt: skip

    async def _save(
        self,
        flow_id: str,
        version: int,
        definition: FlowDefinition,
        text: str,
        fmt: SourceFormat,
        enabled: bool,
        change: FlowChange,
    ) -> Flow:
        now = self.clock.now()
        record = sign_record(self.identity, flow_id=flow_id, version=version, updated_at=now,
                             deleted=False, enabled=enabled, format=fmt, source=text)  # fmt: skip
        defined = (definition.name, definition_json(definition))
        await self.store.save_record(record, defined, created_at=now)
        loaded = self._cache(flow_id, await self.store.flow(flow_id))
        assert loaded is not None
        await self._changed(record, definition.name, change)
        return await self.view(loaded)

    async def delete(self, flow_id: str) -> FlowDeleted:
        loaded = self.loaded(flow_id)
        held = loaded.stored.record
        record = sign_record(self.identity, flow_id=flow_id, version=held.version + 1,
                             updated_at=self.clock.now(), deleted=True, enabled=False,
                             format=held.format, source="")  # fmt: skip
        await self.store.save_record(record, None)
        self._flows.pop(flow_id, None)
        count = await self._forget_runs(flow_id)
        await self._changed(record, loaded.name, "deleted")
        return FlowDeleted(id=flow_id, deleted=True, runs_deleted=count)

    async def _forget_runs(self, flow_id: str) -> int:
        if self.runs is not None:
            await self.runs.cancel_all_of(flow_id)
        return await self.store.delete_runs_of(flow_id)

    async def _changed(self, record: FlowRecord, name: str, change: FlowChange) -> None:
        await self.cluster.announce(record)
        self.bus.publish(
            FLOW_CHANGED,
            FlowChanged(flow_id=record.flow_id, name=name, change=change,
                        version=record.version, node_id=record.author),
        )  # fmt: skip
        self.rearm()

    async def merged(self, records: list[FlowRecord]) -> None:
        """Records from members changed the store: follow them here."""
        for record in records:
            was = self._flows.get(record.flow_id)
            loaded = self._cache(record.flow_id, await self.store.flow(record.flow_id))
            if record.deleted:
                await self._forget_runs(record.flow_id)
                change: FlowChange = "deleted"
            else:
                change = "updated" if was is not None else "created"
            name = loaded.name if loaded else (was.name if was else record.flow_id)
            self.bus.publish(
                FLOW_CHANGED,
                FlowChanged(flow_id=record.flow_id, name=name, change=change,
                            version=record.version, node_id=record.author),
            )  # fmt: skip
        self.rearm()

    def rearm(self) -> None:
        """Arm the enabled flows this node owns, and relay the events of those another
        member owns (see relay.py)."""
        armed: list[ArmedFlow] = []
        for f in sorted(self._flows.values(), key=lambda f: f.flow_id):
            record = f.stored.record
            if f.definition is None or not record.enabled:
                continue
            owner = self.owner(f)
            if owner is None:
                continue
            foreign = record.author != self.node_id
            relay = owner != self.node_id
            armed.append(ArmedFlow(f.flow_id, record.version, f.definition, foreign, relay))
        self.triggers.arm(armed)

    async def listing(self) -> FlowList:
        flows = [await self.view(f) for f in sorted(self._flows.values(), key=_by_name)]
        return FlowList(flows=flows, count=len(flows))

    async def get(self, flow_id: str) -> Flow:
        return await self.view(self.loaded(flow_id))

    @staticmethod
    def schema() -> FlowSchema:
        return FlowSchema(schema=definition_schema())


def _by_name(loaded: Loaded) -> tuple[str, str]:
    return (loaded.name.casefold(), loaded.flow_id)


def _invalid(path: str, message: str) -> BadRequest:
    error = {"line": None, "column": None, "path": path, "message": message}
    return BadRequest(message, code="FLOW_INVALID", details={"errors": [error]})
