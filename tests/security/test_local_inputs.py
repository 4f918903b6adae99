"""Finding 11 (local API): hostile input is a 400 in the API's error format, never a 500.

Each request below answered 500 before: an offset past SQLite's 64-bit integers, JSON nested
past Python's recursion limit (within the body limit), a content part whose text is not a
string, NaN or Infinity where a number goes.
"""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from agent.core.http import MAX_JSON_DEPTH, too_deep
from tests.core.test_security import assert_error

DEEP_BODIES = {
    "lists": b"[" * 50_000,
    "objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "inside a field": b'{"command": "true", "env": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
}
NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e999"]


def post_raw(api: TestClient, path: str, body: bytes):  # type: ignore[no-untyped-def]
    return api.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("offset", ["9223372036854775808", str(2**63 - 1), str(2**200)])
def test_huge_task_offset_is_400(api: TestClient, offset: str) -> None:
    assert_error(api.get(f"/api/tasks?offset={offset}"), 400, "VALIDATION_ERROR")


def test_huge_task_limit_and_event_ids_are_400(api: TestClient) -> None:
    assert_error(api.get(f"/api/tasks?limit={2**64}"), 400, "VALIDATION_ERROR")
    assert_error(api.get(f"/api/events?last_event_id={2**64}"), 400, "VALIDATION_ERROR")
    response = api.get("/api/events", headers={"Last-Event-ID": str(2**64)})
    assert_error(response, 400, "VALIDATION_ERROR")
    response = api.get("/api/events", headers={"Last-Event-ID": "9" * 5000})
    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("path", ["/api/tasks", "/api/llm/chat", "/api/llm/sessions"])
@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
def test_deeply_nested_json_is_400(api: TestClient, path: str, shape: str) -> None:
    body = DEEP_BODIES[shape]
    assert len(body) < api.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    response = post_raw(api, path, body)
    assert_error(response, 400, "INVALID_JSON")


@pytest.mark.parametrize("literal", NON_FINITE)
def test_non_finite_numbers_are_400(api: TestClient, literal: bytes) -> None:
    body = b'{"command": "true", "timeout_s": ' + literal + b"}"
    assert_error(post_raw(api, "/api/tasks", body), 400, "INVALID_JSON")
    chat = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": '
    chat += b'{"temperature": ' + literal + b"}}"
    assert_error(post_raw(api, "/api/llm/chat", chat), 400, "INVALID_JSON")


@pytest.mark.parametrize(
    "body",
    [
        "\ufeff{}".encode(),
        '{"command": "true"}'.encode("utf-16"),
        b'{"command": "\xff"}',
    ],
    ids=["bom", "utf-16", "latin-1"],
)
def test_non_utf8_json_is_400(api: TestClient, body: bytes) -> None:
    assert_error(post_raw(api, "/api/tasks", body), 400, "INVALID_JSON")


def assert_openai_400(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert isinstance(error["message"], str)
    assert error["message"]


def completion(**fields: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


@pytest.mark.parametrize("text", [5, ["a"], {"a": 1}, True])
def test_openai_content_part_text_must_be_a_string(api: TestClient, text: object) -> None:
    body = completion(messages=[{"role": "user", "content": [{"type": "text", "text": text}]}])
    assert_openai_400(api.post("/v1/chat/completions", json=body))


@pytest.mark.parametrize("literal", NON_FINITE)
@pytest.mark.parametrize("field", ["temperature", "top_p", "presence_penalty"])
def test_openai_non_finite_numbers_are_400(api: TestClient, literal: bytes, field: str) -> None:
    raw = json.dumps(completion()).encode()[:-1] + f', "{field}": '.encode() + literal + b"}"
    assert_openai_400(post_raw(api, "/v1/chat/completions", raw))


def test_openai_deep_json_is_400(api: TestClient) -> None:
    assert_openai_400(post_raw(api, "/v1/chat/completions", DEEP_BODIES["lists"]))


def test_depth_limit_counts_only_brackets_outside_strings() -> None:
    limit = MAX_JSON_DEPTH
    assert not too_deep(b"[" * limit + b"]" * limit)
    assert too_deep(b"[" * (limit + 1) + b"]" * (limit + 1))
    assert too_deep(b'{"a":' * (limit + 1) + b"1" + b"}" * (limit + 1))
    assert not too_deep(json.dumps({"s": "[" * 10_000}).encode())
    assert not too_deep(json.dumps({"s": '\\"[' * 10_000}).encode())
    assert not too_deep(json.dumps([[i] for i in range(10_000)]).encode())
    # Unterminated or unbalanced input is the parser's to refuse, as long as it is shallow.
    assert not too_deep(b"]" * 10_000 + b"[" * 10)
    assert too_deep(b'"' + b"\\" * 10 + b'"' + b"[" * 100)


def test_nesting_within_the_limit_is_still_accepted(api: TestClient) -> None:
    options = {"a": 1}
    for _ in range(MAX_JSON_DEPTH - 4):
        options = {"a": options}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": options}
    response = api.post("/api/llm/chat", json=body)
    # Past parsing and validation: what is left is that no backend serves model "m".
    assert response.status_code not in (400, 500), response.text


def test_huge_task_log_positions_are_400(api: TestClient) -> None:
    task_id = api.post("/api/tasks", json={"command": "true"}).json()["task_id"]
    path = f"/api/tasks/{task_id}/logs"
    for raw in (str(2**63), str(-(2**63) - 1), "1e3", "²"):
        assert_error(api.get(path, params={"after": raw}), 400, "VALIDATION_ERROR")
        header = raw.encode("utf-8")
        response = api.get(path, headers=[(b"Last-Event-ID", header)])
        assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud800x"])
def test_lone_surrogates_are_400(api: TestClient, escape: str) -> None:
    body = f'{{"title": "{escape}"}}'.encode()
    assert_error(post_raw(api, "/api/llm/sessions", body), 400, "INVALID_JSON")


def test_surrogate_pairs_are_characters(api: TestClient) -> None:
    body = b'{"title": "\\ud83d\\ude00"}'
    response = post_raw(api, "/api/llm/sessions", body)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "\U0001f600"
