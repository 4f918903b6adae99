"""The agent's JSON answers, as the SDK returns them.

Where an area publishes its wire models, they are the agent's own (pydantic, imported from
that area's `models`, under the SDK's names); `model_dump(mode="json")` gives back the JSON
the agent sent. The others are plain dicts typed as TypedDicts, not checked at run time.
"""

from __future__ import annotations

from typing import Literal

from agent.brain.models import BrainForgotten as BrainForgotten
from agent.brain.models import BrainHit as BrainHit
from agent.brain.models import BrainSearchAnswer as BrainSearchAnswer
from agent.brain.models import BrainSource as BrainSource
from agent.brain.models import BrainStatus as BrainStatus
from agent.brain.models import NotSearched as NotSearched
from agent.brain.models import ReindexProgress as ReindexProgress
from agent.brain.models import SkippedFile as SkippedFile
from agent.cluster.models import AdmittedNode as AdmittedNode
from agent.cluster.models import ClusterNode as ClusterNode
from agent.cluster.models import ClusterStatus as ClusterStatus
from agent.cluster.models import EvictResult as EvictResult
from agent.cluster.models import IssuedJoinToken as IssuedJoinToken
from agent.cluster.models import JoinIssuer as JoinIssuer
from agent.cluster.models import JoinResult as JoinResult
from agent.cluster.models import LeaveResult as LeaveResult
from agent.cluster.models import NodeList as NodeList
from agent.cluster.models import NodeResources as NodeResources
from agent.core.models_auth import LoggedOut as LoggedOut
from agent.core.models_auth import LoginCode as LoginCode
from agent.discovery.models import DiscoveredAgent as DiscoveredAgent
from agent.discovery.models import DiscoveryListing as DiscoveryListing
from agent.flows.models import DefinitionError as DefinitionError
from agent.flows.models import Flow as Flow
from agent.flows.models import FlowDeleted as FlowDeleted
from agent.flows.models import FlowList as FlowList
from agent.flows.models import FlowRun as FlowRun
from agent.flows.models import RunDeleted as RunDeleted
from agent.flows.models import RunList as RunList
from agent.flows.models import StepRun as StepRun
from agent.llm.models import ChatAnswer as ChatAnswer
from agent.llm.models import ChatMessage as ChatMessage
from agent.llm.models import ChatSession as ChatSession
from agent.llm.models import ChatSessionDeleted as ChatSessionDeleted
from agent.llm.models import ChatSessionDetail as ChatSessionDetail
from agent.llm.models import ChatSessionList as ChatSessionList
from agent.llm.models import ChatSessionMessage as ChatSessionMessage
from agent.llm.models import ChatStats as ChatStats
from agent.llm.models import ClusterModel as ClusterModel
from agent.llm.models import LlmStatus as LlmStatus
from agent.llm.models import LoadedModel as LoadedModel
from agent.llm.models import ModelCatalog as ModelCatalog
from agent.llm.models import ModelDeleted as ModelDeleted
from agent.llm.models import ModelFacts as ModelFacts
from agent.llm.models import ModelHolder as ModelHolder
from agent.llm.models import ModelPlan as ModelPlan
from agent.memory.models import AddFactAnswer as AddFactAnswer
from agent.memory.models import Fact as Fact
from agent.memory.models import FactList as FactList
from agent.memory.models import FactRemoved as FactRemoved
from agent.memory.models import FactsCleared as FactsCleared
from agent.memory.models import FactSearchAnswer as FactSearchAnswer
from agent.ops.models import HealthCheck as HealthCheck
from agent.ops.models import HealthProbe as HealthProbe
from agent.ops.models import HealthReport as HealthReport
from agent.ops.models import MetricFamily as MetricFamily
from agent.ops.models import MetricSample as MetricSample
from agent.ops.models import MetricsReport as MetricsReport
from agent.pulse.models import Insight as Insight
from agent.pulse.models import InsightList as InsightList
from agent.pulse.models import PulseHistory as PulseHistory
from agent.pulse.models import WeeklyDigest as WeeklyDigest
from agent.storage.models import StorageDeleted as StorageDeleted
from agent.storage.models import StorageHealth as StorageHealth
from agent.storage.models import StorageListing as StorageListing
from agent.storage.models import StoredFile as StoredFile
from agent.tasks.models import BreakerSnapshot as BreakerSnapshot
from agent.tasks.models import DispatchLatency as DispatchLatency
from agent.tasks.models import SchedulerNode as SchedulerNode
from agent.tasks.models import SchedulerStats as SchedulerStats
from agent.tasks.models import TaskDetail as TaskDetail
from agent.tasks.models import TaskPage as TaskPage
from agent.tasks.models import TaskState as TaskState
from agent.tasks.models import TaskView as TaskView
from agent.telemetry.models import TelemetryHistory as TelemetryHistory
from agent.telemetry.models import TelemetrySample as TelemetrySample

# --- cluster, nodes, discovery, health, metrics: the agent's own models -----------------
# The SDK's names for them (where they differ): Node, Status, Issuer, JoinToken, Discovered,
# Health.

Node = ClusterNode
Status = ClusterStatus
Issuer = JoinIssuer
JoinToken = IssuedJoinToken
Discovered = DiscoveryListing
Health = HealthReport


# --- tasks and the scheduler: the agent's own models ---------------------------------------
# The SDK's names for them (where they differ): Task, Breaker.

Task = TaskView
Breaker = BreakerSnapshot
LogStream = Literal["stdout", "stderr", "end"]  # the kinds of `LogEvent` of `task_logs`


# --- shared storage: the agent's own models ------------------------------------------------
# The SDK's name for one (where it differs): DeleteResult.

DeleteResult = StorageDeleted


# --- LLM pool, chat and sessions: the agent's own models ----------------------------------
# The SDK's names for them (where they differ): LlmModel, SessionMessage, SessionList,
# SessionDeleted.

LlmModel = ModelFacts
SessionMessage = ChatSessionMessage
SessionList = ChatSessionList
SessionDeleted = ChatSessionDeleted
