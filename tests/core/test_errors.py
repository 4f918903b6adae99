from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from agent.core.http import read_json
from agent.core.wire import StrictModel
from tests.core.test_security import assert_error


class Thing(StrictModel):
    name: str
    count: int = 1


async def make_thing(request: Request):
    from starlette.responses import JSONResponse

    thing = await read_json(request, Thing)
    return JSONResponse(thing.model_dump())


async def explode(request: Request):
    raise RuntimeError("secret internal detail")


@pytest.fixture
def client(api: TestClient) -> TestClient:
    api.app.router.routes.insert(0, Route("/api/test/things", make_thing, methods=["POST"]))
    api.app.router.routes.insert(0, Route("/api/test/explode", explode, methods=["GET"]))
    return api


def test_unknown_route_is_404(client: TestClient) -> None:
    assert_error(client.get("/api/no/such/thing"), 404, "NOT_FOUND")
    assert_error(client.get("/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_405(client: TestClient) -> None:
    response = client.put("/api/status")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]


def test_valid_body(client: TestClient) -> None:
    response = client.post("/api/test/things", json={"name": "a", "count": 2})
    assert response.json() == {"name": "a", "count": 2}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "INVALID_JSON"),
        (b"[1, 2]", "INVALID_JSON"),
        (b'"text"', "INVALID_JSON"),
        (b"\xff\xfe", "INVALID_JSON"),
        (b'{"name": 5}', "VALIDATION_ERROR"),
        (b'{"name": "a", "count": "2"}', "VALIDATION_ERROR"),
        (b'{"name": "a", "extra": 1}', "VALIDATION_ERROR"),
        (b"{}", "VALIDATION_ERROR"),
    ],
)
def test_bad_bodies_are_400(client: TestClient, body: bytes, code: str) -> None:
    response = client.post(
        "/api/test/things", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, code)


def test_validation_errors_name_the_field(client: TestClient) -> None:
    body = client.post("/api/test/things", json={"name": 5}).json()
    assert body["details"]["fields"][0]["field"] == "name"


def test_oversized_body_is_413(client: TestClient) -> None:
    big = b'{"name": "' + b"x" * 2_000_000 + b'"}'
    response = client.post(
        "/api/test/things", content=big, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks():
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = client.post(
        "/api/test/things", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/api/test/things",
        content=b"name=a",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unexpected_exception_is_500_without_internals(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/api/test/explode", headers={"X-Request-ID": "req-123"})
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["details"]["request_id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"
    assert any("req-123" in record.getMessage() for record in caplog.records)


def test_every_response_has_a_request_id(client: TestClient) -> None:
    assert client.get("/api/status").headers["x-request-id"]


def test_unknown_query_parameter_is_400(client: TestClient) -> None:
    assert_error(client.get("/api/metrics?bogus=1"), 400, "VALIDATION_ERROR")
