"""`Settings`: every area's rows in one frozen object (see agent/settings/__init__.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.settings.cluster import ClusterSettings
from agent.settings.flows import FlowSettings
from agent.settings.intelligence import IntelligenceSettings
from agent.settings.node import NodeSettings
from agent.settings.work import WorkSettings


# Areas are listed last-first: a dataclass orders inherited fields from the last base on,
# and the docs list settings in that order (node, cluster, work, intelligence, flows).
@dataclass(frozen=True)
class Settings(FlowSettings, IntelligenceSettings, WorkSettings, ClusterSettings, NodeSettings):
    @property
    def config_path(self) -> Path:
        return self.home / "config.yaml"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
