"""http.request against a real local HTTP server: statuses, JSON both ways, a bounded answer,
redirects (followed, or refused to another scheme), and a foreign flow kept off loopback."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from agent.core.subsystem import Context
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.actions.http import HttpRequest
from agent.flows.actions.http_guard import IP, Guard
from agent.flows.actions.params import HttpRequestParams
from agent.flows.clock import WallClock
from agent.server import bind
from tests.harness import async_wait_until
from tests.pulse.fakes import FakeClock, pulse_context

pytestmark = pytest.mark.asyncio(loop_scope="module")
BIG = "0123456789" * 10_000


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "type": request.headers.get("content-type"),
            "token": request.headers.get("x-token"),
            "body": body.decode(),
        }
    )


async def status(request: Request) -> Response:
    return PlainTextResponse("went wrong", status_code=int(request.path_params["code"]))


ROUTES = [
    Route("/echo", echo, methods=["GET", "POST", "PUT"]),
    Route("/big", lambda _: PlainTextResponse(BIG)),
    Route("/status/{code:int}", status),
    Route("/hop", lambda _: RedirectResponse("/echo", status_code=302)),
    Route("/loop", lambda _: RedirectResponse("/loop", status_code=302)),
    Route("/to-ftp", lambda _: RedirectResponse("ftp://127.0.0.1/x", status_code=302)),
    Route(
        "/problem",
        lambda _: JSONResponse({"title": "nope"}, 404, media_type="application/problem+json"),
    ),
]


@dataclass
class Site:
    url: str
    ctx: Context


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        Starlette(routes=ROUTES), log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await async_wait_until(lambda: server.started or task.done(), 15, "the site to start")
    home: Path = tmp_path_factory.mktemp("http")
    try:
        async with pulse_context(home, FakeClock(), flows_http_timeout=20.0) as ctx:
            yield Site(f"http://127.0.0.1:{sock.getsockname()[1]}", ctx)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def fetch(
    site: Site, path: str, *, foreign: bool = False, guard: Guard | None = None, **with_: Any
) -> dict[str, Any]:
    url = path if "://" in path else site.url + path
    call = StepCall(
        flow_id="f",
        flow_name="F",
        run_id="r",
        step_id="s",
        attempt=1,
        params=HttpRequestParams.model_validate({"url": url, **with_}),
        foreign=foreign,
        log=lambda _: None,
    )
    return await HttpRequest(site.ctx, WallClock(), guard).run(call)


async def test_json_goes_out_and_comes_back_parsed(site: Site) -> None:
    out = await fetch(site, "/echo", method="POST", body={"a": [1, 2]}, headers={"X-Token": "k"})
    assert out["status"] == 200
    assert out["json"] == {
        "method": "POST",
        "type": "application/json",
        "token": "k",
        "body": '{"a":[1,2]}',
    }
    assert out["headers"]["content-type"] == "application/json"
    assert not out["truncated"]


async def test_text_is_sent_as_it_is(site: Site) -> None:
    out = await fetch(site, "/echo", method="PUT", body="plain words")
    assert out["json"]["body"] == "plain words"


async def test_a_large_answer_is_cut_at_max_bytes(site: Site) -> None:
    out = await fetch(site, "/big", max_bytes=100)
    assert out["body"] == BIG[:100]
    assert out["truncated"]
    assert out["json"] is None
    whole = await fetch(site, "/big")
    assert whole["body"] == BIG
    assert not whole["truncated"]


async def test_an_error_status_fails_unless_told_not_to(site: Site) -> None:
    with pytest.raises(StepFailed, match="HTTP 503") as failed:
        await fetch(site, "/status/503")
    assert failed.value.outputs["body"] == "went wrong"
    out = await fetch(site, "/problem", fail_on_status=False)
    assert out["status"] == 404
    assert out["json"] == {"title": "nope"}


async def test_redirects_are_followed_within_a_bound(site: Site) -> None:
    out = await fetch(site, "/hop")
    assert out["status"] == 200
    assert out["json"]["method"] == "GET"
    with pytest.raises(StepFailed, match="redirected more than"):
        await fetch(site, "/loop")


async def test_a_redirect_to_another_scheme_is_refused(site: Site) -> None:
    with pytest.raises(StepFailed, match="redirected to a ftp URL"):
        await fetch(site, "/to-ftp")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "169.254.169.254"])
async def test_a_foreign_flow_may_not_call_loopback_or_link_local(site: Site, host: str) -> None:
    port = site.url.rsplit(":", 1)[1]
    with pytest.raises(StepFailed, match="written on another member"):
        await fetch(site, f"http://{host}:{port}/echo", foreign=True)


class Rebinding:
    """A name that first resolves to the site, then somewhere the policy forbids."""

    REBOUND = ipaddress.ip_address("127.0.0.3")

    def __init__(self, *answers: str) -> None:
        self.answers = [[ipaddress.ip_address(a)] for a in answers]
        self.asked = 0

    async def resolve(self, host: str, port: int) -> list[IP]:
        self.asked += 1
        return self.answers[min(self.asked, len(self.answers)) - 1]

    def refuse(self, address: IP) -> str | None:
        return "the rebound address" if address == self.REBOUND else None


async def test_a_foreign_flow_connects_to_the_address_it_checked(site: Site) -> None:
    port = site.url.rsplit(":", 1)[1]
    name = Rebinding("127.0.0.1", "127.0.0.3")
    answer = await fetch(
        site,
        f"http://rebinding.test:{port}/echo",
        foreign=True,
        guard=Guard(name.resolve, name.refuse),
    )
    assert answer["status"] == 200
    assert name.asked == 1  # checked and connected on one answer: no second lookup to rebind


async def test_a_foreign_flow_refused_by_the_address_makes_no_connection(site: Site) -> None:
    port = site.url.rsplit(":", 1)[1]
    name = Rebinding("127.0.0.3", "127.0.0.1")
    with pytest.raises(StepFailed, match=r"127\.0\.0\.3, the rebound address"):
        await fetch(
            site,
            f"http://rebinding.test:{port}/echo",
            foreign=True,
            guard=Guard(name.resolve, name.refuse),
        )
    assert name.asked == 1


async def test_only_http_urls_are_taken(site: Site) -> None:
    with pytest.raises(StepFailed, match="not an http or https URL"):
        await fetch(site, "file:///etc/passwd")


async def test_a_server_that_is_not_there_fails_the_step(site: Site) -> None:
    with pytest.raises(StepFailed, match="failed"):
        await fetch(site, "http://127.0.0.1:9/")
