"""`storage get|put` when a transfer breaks halfway or the agent misbehaves, played by an
httpx MockTransport (a real agent does not fail on cue), and the progress meter."""

from __future__ import annotations

import functools
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import cli.runtime as runtime
from agent.client import AgentClient
from cli.main import cli
from cli.progress import Progress, wanted
from tests.cli.conftest import cli_env
from tests.cli.test_cli_storage import MIB, leftovers, sha, write

pytestmark = pytest.mark.timeout(90)


class BreakingStream(httpx.AsyncByteStream):
    """Sends `head`, then fails with `error`, as a connection lost mid-transfer does."""

    def __init__(self, head: bytes, error: BaseException) -> None:
        self.head, self.error = head, error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise self.error


def mock_agent(monkeypatch: pytest.MonkeyPatch, handler: Callable[[httpx.Request], Any]) -> None:
    """Every CLI command talks to `handler` instead of an agent."""
    transport = httpx.MockTransport(handler)
    monkeypatch.setattr(runtime, "AgentClient", functools.partial(AgentClient, transport=transport))


def invoke_mock(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--url", "http://agent.test", *args], env=cli_env(tmp_path / "home", "t")
    )


def file_response(body: bytes | httpx.AsyncByteStream, size: int, digest: str) -> httpx.Response:
    headers = {"Content-Length": str(size), "ETag": f'"{digest}"', "Accept-Ranges": "bytes"}
    if isinstance(body, bytes):
        return httpx.Response(200, headers=headers, content=body)
    return httpx.Response(200, headers=headers, stream=body)


@pytest.mark.parametrize(
    ("error", "exit_code", "message"),
    [
        (httpx.RemoteProtocolError("peer closed"), 1, "broke off after 1000 of 4000 bytes"),
        (KeyboardInterrupt(), 130, "the download of big was interrupted"),
    ],
    ids=["connection-lost", "ctrl-c"],
)
def test_a_broken_download_leaves_no_partial_file(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    error: BaseException,
    exit_code: int,
    message: str,
) -> None:
    mock_agent(
        monkeypatch, lambda _: file_response(BreakingStream(b"x" * 1000, error), 4000, "0" * 64)
    )
    out = tmp_path / "out"
    out.mkdir()
    result = invoke_mock(tmp_path, "storage", "get", "big", str(out / "big"))
    assert result.exit_code == exit_code
    assert message in result.stderr
    assert list(out.iterdir()) == []


def test_a_download_with_the_wrong_checksum_is_not_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mock_agent(monkeypatch, lambda _: file_response(b"tampered", 8, sha(b"original")))
    result = invoke_mock(tmp_path, "storage", "get", "f", str(tmp_path / "f"))
    assert result.exit_code == 1
    assert f"not f's {sha(b'original')}" in result.stderr
    assert not (tmp_path / "f").exists()
    assert leftovers(tmp_path) == []


def test_put_fails_when_the_agent_stored_other_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"files": [], "count": 0})
        request.read()
        body = {"path": "f", "size": 3, "sha256": sha(b"xyz"), "modified": 1.0, "writer": "n"}
        return httpx.Response(201, json={**body, "chunks": 1, "nodes": ["n"], "health": "healthy"})

    mock_agent(monkeypatch, handler)
    result = invoke_mock(tmp_path, "storage", "put", str(write(tmp_path / "f", b"abc")))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"the 3 bytes sent have sha256 {sha(b'abc')}" in result.stderr


def test_put_reports_a_file_that_appeared_after_the_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"files": [], "count": 0})
        body = {"success": False, "error": "f already exists", "error_code": "FILE_EXISTS"}
        return httpx.Response(409, json=body)

    mock_agent(monkeypatch, handler)
    result = invoke_mock(tmp_path, "storage", "put", str(write(tmp_path / "f", b"abc")))
    assert (result.exit_code, result.stderr) == (1, "openfabric: f already exists (FILE_EXISTS)\n")


# --- the progress meter ------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_meter_draws_only_on_a_terminal() -> None:
    assert wanted(False, Terminal())
    assert not wanted(True, Terminal())
    assert not wanted(False, io.StringIO())

    screen, now = Terminal(), [0.0]
    meter = Progress("f.bin", 4 * MIB, enabled=True, stream=screen, clock=lambda: now[0])
    now[0] = 1.0
    meter.update(MIB)
    meter.update(MIB)  # within the redraw interval: not drawn
    now[0] = 2.0
    meter.update(2 * MIB)
    meter.close()
    meter.close()
    lines = screen.getvalue().split("\r")[1:]
    assert lines[0] == "f.bin  1.0 MiB / 4.0 MiB   25%  1.0 MiB/s"
    assert lines[1] == "f.bin  4.0 MiB / 4.0 MiB  100%  2.0 MiB/s"
    assert lines[2] == "f.bin  4.0 MiB / 4.0 MiB  100%  2.0 MiB/s\n"

    quiet = Terminal()
    silent = Progress("f", None, enabled=False, stream=quiet)
    silent.update(10)
    silent.close()
    assert (quiet.getvalue(), silent.done) == ("", 10)
    unknown = Progress("f", None, enabled=True, clock=lambda: 0.0)
    assert (unknown.line(0.0), unknown.line(2.0)) == ("f  0 B", "f  0 B  0 B/s")
