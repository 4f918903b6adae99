"""No agent, bad configuration: one line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import free_port, invoke, process_env, run_process

COMMANDS = [
    ["status"],
    ["nodes", "list"],
    ["nodes", "show", "abc"],
    ["nodes", "evict", "abc", "--yes"],
    ["cluster", "token"],
    ["cluster", "token", "--quiet"],
    ["cluster", "leave", "--yes"],
    ["cluster", "discovered"],
    ["cluster", "status"],
    ["join", "ofj1.abc"],
    ["tasks", "run", "true"],
    ["tasks", "run", "true", "--follow"],
    ["tasks", "run", "true", "--node", "n1"],
    ["tasks", "list"],
    ["tasks", "show", "t1"],
    ["tasks", "logs", "t1"],
    ["tasks", "logs", "t1", "--follow"],
    ["tasks", "cancel", "t1"],
    ["scheduler", "stats"],
    ["health"],
    ["metrics"],
    ["metrics", "--prometheus"],
    ["events", "--count", "1"],
    ["dashboard", "--no-browser"],
]


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("port: 99999\n")
    return path


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_agent_is_one_line_and_exit_1(tmp_path: Path, args: list[str]) -> None:
    port = free_port()
    result = invoke(["--url", f"http://127.0.0.1:{port}", *args], tmp_path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"openfabric: no agent is answering at http://127.0.0.1:{port} "
        "(start one with 'openfabric serve')\n"
    )


@pytest.mark.parametrize("module", [False, True], ids=["script", "python -m cli"])
def test_no_agent_as_a_real_process(tmp_path: Path, module: bool) -> None:
    port = free_port()
    done = run_process(
        ["--url", f"http://127.0.0.1:{port}", "nodes", "list"],
        process_env(tmp_path),
        module=module,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"openfabric: no agent is answering at http://127.0.0.1:{port} "
        "(start one with 'openfabric serve')"
    ]


def test_without_agent_json_the_default_url_is_used(tmp_path: Path) -> None:
    # Nothing may listen on 4892 here for this to hold; skip rather than guess.
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 4892)) == 0:
            pytest.skip("something listens on 127.0.0.1:4892")
    result = invoke(["status"], tmp_path)
    assert result.exit_code == 1
    assert "no agent is answering at http://127.0.0.1:4892 " in result.stderr


def test_version_without_agent_says_so(tmp_path: Path) -> None:
    result = invoke(["--url", f"http://127.0.0.1:{free_port()}", "version"], tmp_path)
    assert result.exit_code == 0
    assert result.stdout.startswith("cli    0.1.0\nagent  not running: no agent is answering")
    assert result.stderr == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_serve_with_invalid_config_exits_2(tmp_path: Path, bad_config: Path, where: str) -> None:
    option = ["--config", str(bad_config)]
    args = [*option, "serve"] if where == "before" else ["serve", *option]
    result = invoke(args, tmp_path / "home")
    assert result.exit_code == 2
    assert result.stderr == (
        "openfabric: invalid configuration: port must be <= 65535, got 99999 (config file)\n"
    )


def test_serve_with_invalid_config_as_a_real_process(tmp_path: Path, bad_config: Path) -> None:
    done = run_process(["--config", str(bad_config), "serve"], process_env(tmp_path / "home"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "openfabric: invalid configuration: port must be <= 65535, got 99999 (config file)"
    ]


def test_client_commands_with_invalid_config_exit_2(tmp_path: Path, bad_config: Path) -> None:
    result = invoke(["status", "--config", str(bad_config)], tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith("openfabric: invalid configuration: port must be <= 65535")


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    result = invoke(
        ["--url", f"http://127.0.0.1:{free_port()}", "version", "-o", str(tmp_path / "no" / "f")],
        tmp_path,
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("openfabric: cannot write ")
