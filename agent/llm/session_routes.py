"""Chat sessions over HTTP: list, start, read, rename, delete. Each change is published as
`llm.session.changed`, so every open dashboard follows it."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.bus import EventBus
from agent.core.errors import NotFound
from agent.core.http import api_route, json_response, read_json
from agent.core.wire import StrictModel
from agent.llm.events import SESSION_CHANGED, SessionChanged
from agent.llm.models import ChatSession, ChatSessionDeleted, ChatSessionDetail, ChatSessionList
from agent.llm.store import ChatStore

TAG = "llm"
SESSION_404 = {404: "SESSION_NOT_FOUND"}
Change = Literal["created", "renamed", "deleted"]


class NewSession(StrictModel):
    title: Annotated[str, Field(min_length=1, max_length=200)] = "New chat"
    model: Annotated[str, Field(max_length=300)] | None = None


class Rename(StrictModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]


def no_session(session_id: str) -> NotFound:
    return NotFound(f"no chat session {session_id!r}", code="SESSION_NOT_FOUND")


async def _session(store: ChatStore, session_id: str) -> ChatSession:
    session = await store.session(session_id)
    if session is None:
        raise no_session(session_id)
    return session


def build_session_routes(store: ChatStore, bus: EventBus) -> list[BaseRoute]:
    def changed(session_id: str, change: str) -> None:
        bus.publish(
            SESSION_CHANGED,
            SessionChanged.model_validate({"session_id": session_id, "change": change}),
        )

    async def list_sessions(request: Request) -> Response:
        sessions = await store.sessions()
        return json_response(ChatSessionList(sessions=sessions, count=len(sessions)))

    async def new_session(request: Request) -> Response:
        body = await read_json(request, NewSession)
        session_id = "s" + secrets.token_hex(8)
        await store.create(session_id, body.title, body.model, time.time())
        changed(session_id, "created")
        return json_response(await _session(store, session_id), status=201)

    async def get_session(request: Request) -> Response:
        session = await _session(store, request.path_params["session_id"])
        messages = await store.messages(session.session_id)
        return json_response(ChatSessionDetail(**dict(session), messages=messages))

    async def delete_session(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if not await store.delete(session_id):
            raise no_session(session_id)
        changed(session_id, "deleted")
        return json_response(ChatSessionDeleted(session_id=session_id, deleted=True))

    async def rename(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        body = await read_json(request, Rename)
        if not await store.rename(session_id, body.title, time.time()):
            raise no_session(session_id)
        changed(session_id, "renamed")
        return json_response(await _session(store, session_id))

    return [
        api_route(
            "/api/llm/sessions",
            list_sessions,
            methods=["GET"],
            tag=TAG,
            answer=ChatSessionList,
            summary="Stored chat sessions, most recent first.",
        ),
        api_route(
            "/api/llm/sessions",
            new_session,
            methods=["POST"],
            tag=TAG,
            body=NewSession,
            success=201,
            answer=ChatSession,
            summary="Start a chat session.",
        ),
        api_route(
            "/api/llm/sessions/{session_id}",
            get_session,
            methods=["GET"],
            tag=TAG,
            answer=ChatSessionDetail,
            summary="A chat session with its messages.",
            responses=SESSION_404,
        ),
        api_route(
            "/api/llm/sessions/{session_id}",
            delete_session,
            methods=["DELETE"],
            tag=TAG,
            answer=ChatSessionDeleted,
            summary="Delete a chat session and its messages.",
            responses=SESSION_404,
        ),
        api_route(
            "/api/llm/sessions/{session_id}/title",
            rename,
            methods=["PUT"],
            tag=TAG,
            body=Rename,
            answer=ChatSession,
            summary="Rename a chat session.",
            responses=SESSION_404,
        ),
    ]
