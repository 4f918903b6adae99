"""Fixtures for discovery tests: a Context with a fake clock, and a service built on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.discovery.subsystem import DiscoveryService
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings
from tests.discovery.fakes import SELF_ID, FakeClock, MemberCalls, make_advert


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_ctx(tmp_path: Path, clock: FakeClock) -> Callable[..., Context]:
    def make(**settings: Any) -> Context:
        return Context(
            settings=Settings(home=tmp_path, **settings),
            db=Database(tmp_path / "fabric.db"),  # never opened
            bus=EventBus(),
            metrics=Metrics(),
            identity=load_or_create_identity(tmp_path),
            version="0.1.0",
            clock=clock,
        )

    return make


@pytest.fixture
def ctx(make_ctx: Callable[..., Context]) -> Context:
    return make_ctx()


@pytest.fixture
def members() -> MemberCalls:
    return MemberCalls()


@pytest.fixture
def service(ctx: Context, members: MemberCalls) -> DiscoveryService:
    return DiscoveryService(
        ctx,
        advert=lambda: make_advert(SELF_ID),
        is_member=members.is_member,
        on_member_address=members.on_member_address,
    )
