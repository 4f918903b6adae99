"""The OpenFabric Python SDK: a typed async client for an agent's local API.

    async with AgentClient(*discover()) as client:
        status = await client.status()
        async for event in client.events(["node.telemetry"]):
            print(event.topic, event.data)

Responses are returned as the agent sends them (plain dicts, typed as the TypedDicts of
`agent.client_models`), so they can be dumped back to JSON unchanged. Every failure is a
`ClientError`: `AgentUnavailable` when nothing answers, `ApiError` when the agent answers with
its standard error body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

import httpx

from agent.client_auth import AuthMixin, LoggedOut, LoginCode
from agent.client_discovery import DEFAULT_URL, discover
from agent.client_llm import LlmMixin
from agent.client_llm_models import (
    ChatAnswer,
    ChatEvent,
    ChatMessage,
    ChatSession,
    ChatSessionDetail,
    ChatStats,
    ClusterModel,
    LlmModel,
    LlmStatus,
    LoadedModel,
    ModelCatalog,
    ModelDeleted,
    ModelHolder,
    ModelPlan,
    PullEvent,
    SessionDeleted,
    SessionList,
    SessionMessage,
)
from agent.client_models import (
    AdmittedNode,
    AgentUnavailable,
    ApiError,
    Breaker,
    ClientError,
    DeleteResult,
    Discovered,
    DiscoveredAgent,
    DispatchLatency,
    EvictResult,
    Health,
    HealthCheck,
    Issuer,
    JoinResult,
    JoinToken,
    LeaveResult,
    LogEvent,
    MetricFamily,
    MetricSample,
    Node,
    NodeResources,
    SchedulerNode,
    SchedulerStats,
    SSEParser,
    Status,
    StorageListing,
    StoredFile,
    StreamEvent,
    Task,
    TaskDetail,
    TaskPage,
    TaskState,
    parse_sse,
)
from agent.client_storage import Download, StorageDownload, StorageMixin

# fmt: off
__all__ = [
    "DEFAULT_TIMEOUT", "DEFAULT_URL", "AdmittedNode", "AgentClient", "AgentUnavailable",
    "ApiError", "Breaker", "ChatAnswer", "ChatEvent", "ChatMessage", "ChatSession",
    "ChatSessionDetail", "ChatStats", "ClientError", "ClusterModel", "DeleteResult", "Discovered",
    "DiscoveredAgent",
    "DispatchLatency", "Download", "EvictResult", "Health", "HealthCheck", "Issuer", "JoinResult",
    "JoinToken", "LeaveResult", "LlmModel", "LlmStatus", "LoadedModel", "LogEvent",
    "LoggedOut", "LoginCode", "MetricFamily",
    "MetricSample", "ModelCatalog", "ModelDeleted", "ModelHolder", "ModelPlan", "Node",
    "NodeResources", "PullEvent", "SSEParser", "SchedulerNode", "SchedulerStats", "SessionDeleted",
    "SessionList", "SessionMessage", "Status", "StorageDownload", "StorageListing", "StoredFile",
    "StreamEvent", "Task", "TaskDetail", "TaskPage", "TaskState", "discover", "parse_sse",
]
# fmt: on

DEFAULT_TIMEOUT = 10.0


class AgentClient(StorageMixin, LlmMixin, AuthMixin):
    """Async client of one agent's local API (`/api/...`); storage calls in `client_storage`,
    LLM pool, chat and chat sessions in `client_llm`.

    Use as `async with AgentClient(url, token) as client:`. Methods return the agent's JSON
    bodies; failures raise `AgentUnavailable` or `ApiError`. `transport` is for tests.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            # trust_env=False: a proxy from HTTP_PROXY must never sit between the CLI and a
            # loopback agent (the agent rejects foreign Host headers anyway).
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=timeout,
                transport=transport,
                trust_env=False,
            )
        except httpx.InvalidURL as exc:
            raise ClientError(f"invalid agent URL {base_url!r}: {exc}") from None

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def status(self) -> Status:
        result: Status = await self._get_json("/api/status")
        return result

    async def nodes(self) -> list[Node]:
        body = await self._get_json("/api/nodes")
        nodes: list[Node] = body["nodes"]
        return nodes

    async def node(self, node_id: str) -> Node:
        result: Node = await self._get_json(f"/api/nodes/{quote(node_id, safe='')}")
        return result

    async def evict_node(self, node_id: str, *, evict_admitted: bool = False) -> EvictResult:
        """Evict a member everywhere, for good (404 NODE_NOT_FOUND, 409 CANNOT_EVICT_SELF).

        The answer lists the members it admitted (`admitted`) for review; `evict_admitted`
        evicts them too (`also_evicted`)."""
        params = {"evict_admitted": "true"} if evict_admitted else None
        response = await self._request(
            "DELETE", f"/api/nodes/{quote(node_id, safe='')}", params=params
        )
        result: EvictResult = self._json(response)
        return result

    async def join_token(self) -> JoinToken:
        """A new single-use token for another device to join this node's cluster."""
        result: JoinToken = await self._get_json("/api/cluster/join-token")
        return result

    async def join(self, token: str) -> JoinResult:
        """Join the cluster of the node that issued `token`.

        Refusals arrive as `ApiError` codes: INVALID_TOKEN, ALREADY_IN_CLUSTER, OWN_TOKEN,
        TOKEN_EXPIRED, TOKEN_USED, FINGERPRINT_MISMATCH, ISSUER_UNREACHABLE.
        """
        response = await self._request(
            "POST", "/api/cluster/join-remote", json_body={"token": token}
        )
        result: JoinResult = self._json(response)
        return result

    async def leave(self) -> LeaveResult:
        """Leave the cluster; this node becomes a lone node (409 NOT_IN_CLUSTER)."""
        result: LeaveResult = self._json(await self._request("POST", "/api/cluster/leave"))
        return result

    async def discovered(self) -> Discovered:
        """Agents seen on the LAN over mDNS that are not members of this cluster."""
        result: Discovered = await self._get_json("/api/cluster/discovered")
        return result

    async def health(self) -> Health:
        """The health report; returned (not raised) when the agent answers 503 unhealthy.

        Without a token the agent answers only `{"status": "ok" | "unhealthy"}`."""
        response = await self._request("GET", "/api/health", ok=503)
        body = self._json(response)
        if response.status_code == 503 and "checks" not in body:
            raise ApiError.from_response(response)
        result: Health = body
        return result

    async def metrics(self) -> list[MetricFamily]:
        body = await self._get_json("/api/metrics")
        families: list[MetricFamily] = body["metrics"]
        return families

    async def metrics_text(self) -> str:
        """The Prometheus text exposition."""
        response = await self._request("GET", "/api/metrics", params={"format": "prometheus"})
        return response.text

    async def openapi(self) -> dict[str, Any]:
        return await self._get_json("/api/openapi.json")

    async def events(
        self, topics: list[str] | None = None, last_event_id: int | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Follow `/api/events` until the agent ends the stream (or the caller stops).

        `topics` are topic names or prefixes; none means every topic. `last_event_id` replays
        what the agent still holds after that sequence number first. A caller that stops early
        should close the iterator (`contextlib.aclosing`) so the connection is released at once.
        """
        params = {"topics": ",".join(topics)} if topics else {}
        stream = self._sse("/api/events", params, last_event_id, "event stream")
        async with aclosing(stream):
            async for event in stream:
                yield event

    # --- tasks ----------------------------------------------------------------------------

    async def submit_task(
        self,
        command: str,
        *,
        node: str | None = None,
        wait_for_node: bool = True,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        retries: int = 0,
        labels: Mapping[str, str] | None = None,
    ) -> Task:
        """Queue a shell command for the scheduler to place (on `node` when given); `retries`:
        how often a task lost with its node runs again. Refusals: VALIDATION_ERROR,
        UNKNOWN_NODE, REMOTE_EXEC_DISABLED, NODE_OFFLINE (`node` offline, not waiting)."""
        body: dict[str, Any] = {"command": command, "wait_for_node": wait_for_node}
        optional = {"preferred_node": node, "timeout_s": timeout_s, "cwd": cwd}
        body.update({key: value for key, value in optional.items() if value is not None})
        body.update(env=dict(env or {}), retries=retries, labels=dict(labels or {}))
        result: Task = self._json(await self._request("POST", "/api/tasks", json_body=body))
        return result

    async def tasks(
        self, status: str | None = None, node: str | None = None, limit: int = 50, offset: int = 0
    ) -> TaskPage:
        """One page of tasks, newest first, optionally only those in `status` or on `node`."""
        params = {"limit": str(limit), "offset": str(offset)}
        params.update({k: v for k, v in (("status", status), ("node", node)) if v is not None})
        result: TaskPage = self._json(await self._request("GET", "/api/tasks", params=params))
        return result

    async def task(self, task_id: str, full: bool = False) -> TaskDetail:
        """A task with its output (the last 64 KiB of each stream unless `full`)."""
        params = {"full": "true" if full else "false"}
        response = await self._request("GET", _task_path(task_id), params=params)
        result: TaskDetail = self._json(response)
        return result

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel a task (TASK_NOT_FOUND, TASK_FINISHED); a running one ends soon after."""
        result: Task = self._json(await self._request("DELETE", _task_path(task_id)))
        return result

    async def task_logs(self, task_id: str, after: int | None = None) -> AsyncIterator[LogEvent]:
        """A task's output as it is written, then one `end` event with the final task.

        Replays what was already written (after chunk `after`, when given) first. A stream the
        agent closes early (a follower that fell too far behind is cut off) is resumed from the
        last chunk received; after three early closes without new output it gives up.
        """
        path, closed_early = f"{_task_path(task_id)}/logs", 0
        while True:
            stream = self._sse(path, {}, after, f"log stream of task {task_id}")
            async with aclosing(stream):
                async for event in stream:
                    if event.topic == "end":
                        yield LogEvent("end", None, task=event.data)
                        return
                    if event.topic in ("stdout", "stderr") and isinstance(event.data, dict):
                        after, closed_early = event.id, 0
                        yield LogEvent(event.topic, event.id, str(event.data.get("text", "")))
            closed_early += 1
            if closed_early > 2:
                raise ClientError(f"the agent closed the log stream of task {task_id} early")

    async def scheduler_stats(self) -> SchedulerStats:
        """Queue depth, tasks in flight, per-node load and breakers, dispatch latency."""
        result: SchedulerStats = await self._get_json("/api/scheduler/stats")
        return result

    async def _sse(
        self, path: str, params: Mapping[str, str], last_event_id: int | None, what: str
    ) -> AsyncIterator[StreamEvent]:
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        # No read timeout: a quiet stream is normal between keep-alives.
        timeout = httpx.Timeout(self.timeout, read=None)
        request = self._http.build_request(
            "GET", path, params=params, headers=headers, timeout=timeout
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError.from_response(response)
            parser = SSEParser()
            try:
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
            except httpx.TransportError as exc:
                raise AgentUnavailable(
                    self.base_url, f"lost the {what} from {self.base_url}: {exc}"
                ) from None
        finally:
            await response.aclose()

    async def _get_json(self, path: str) -> Any:
        return self._json(await self._request("GET", path))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        ok: int = 0,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, params=params, json=json_body)
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from None
        if response.status_code >= 400 and response.status_code != ok:
            raise ApiError.from_response(response)
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                "INVALID_RESPONSE",
                f"the agent at {self.base_url} answered {response.request.url.path} "
                "with a body that is not JSON",
            ) from None

    def _unavailable(self, exc: httpx.TransportError) -> AgentUnavailable:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return AgentUnavailable(self.base_url)
        if isinstance(exc, httpx.TimeoutException):
            reason = f"did not answer within {self.timeout:g}s"
        else:
            reason = f"cannot be reached: {exc or type(exc).__name__}"
        return AgentUnavailable(self.base_url, f"the agent at {self.base_url} {reason}")


def _task_path(task_id: str) -> str:
    return f"/api/tasks/{quote(task_id, safe='')}"
