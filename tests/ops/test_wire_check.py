"""The suite-wide answer check itself: it catches an answer that drifts from its model."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from agent.core.http import api_route
from agent.core.wire import Answer
from tests.wire_check import VIOLATIONS, checked


class Pong(Answer):
    count: int


def _app(answer: object, declare: bool = True) -> Starlette:
    async def ping(request: Request) -> Response:
        return JSONResponse(answer)

    route = api_route(
        "/api/ping",
        ping,
        methods=["GET"],
        summary="ping",
        tag="test",
        answer=Pong if declare else None,
    )
    return checked(Starlette(routes=[route]))


def test_a_matching_answer_passes() -> None:
    with TestClient(_app({"count": 1})) as client:
        assert client.get("/api/ping").status_code == 200
    assert VIOLATIONS == []


def test_a_drifted_answer_and_an_undeclared_one_are_caught() -> None:
    try:
        with TestClient(_app({"count": "one"})) as client:
            client.get("/api/ping")
        with TestClient(_app({"count": 1}, declare=False)) as client:
            client.get("/api/ping")
        assert len(VIOLATIONS) == 2
        assert "does not match Pong" in VIOLATIONS[0]
        assert "declares no answer model" in VIOLATIONS[1]
    finally:
        VIOLATIONS.clear()
