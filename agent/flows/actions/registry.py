"""Every action a step may use, but `wait` and `flow.run` (the engine runs those itself)."""

from __future__ import annotations

from agent.client import AgentClient
from agent.core.subsystem import Context
from agent.flows.actions.base import Action
from agent.flows.actions.chat import LlmChat
from agent.flows.actions.http import HttpRequest
from agent.flows.actions.knowledge import BrainSearch
from agent.flows.actions.notify import Notify
from agent.flows.actions.storage import StorageGet, StorageLs, StoragePut, StorageRm
from agent.flows.actions.tasks import TaskRun
from agent.flows.actions.tools import McpCall
from agent.flows.clock import Clock, WallClock


def build_actions(
    ctx: Context, client: AgentClient, *, clock: Clock | None = None
) -> dict[str, Action]:
    """The actions by name. `client` reaches this agent's own API (the caller closes it);
    `clock` is the one step deadlines are on (the wall clock unless given). Actions hold no
    resource of their own: nothing to close."""
    on = clock or WallClock()
    actions: list[Action] = [
        TaskRun(ctx, client, on),
        LlmChat(client),
        BrainSearch(ctx),
        StoragePut(client),
        StorageGet(client),
        StorageLs(client),
        StorageRm(client),
        McpCall(ctx, on),
        HttpRequest(ctx, on),
        Notify(ctx),
    ]
    return {action.name: action for action in actions}
