"""A built wheel carries the dashboard, and an agent installed from it serves it (and it runs).

A source checkout finds the files beside the code, so only a real non-editable install shows
whether they were packaged. Everything runs offline: the wheel is built without build
isolation and installed without dependencies into a venv that borrows this environment's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright import sync_api

from tests.harness import REPO, AgentProcess, agent_process

pytestmark = pytest.mark.slow
STATIC = REPO / "agent" / "dashboard" / "static"
SOURCES = ["agent", "cli", "pyproject.toml", "README.md"]
CHROMIUM = shutil.which("chromium")


def run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    # A copy, so the build's own files (build/, *.egg-info) never land in the checkout.
    source = tmp_path / "src"
    source.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=skip)
        else:
            shutil.copy2(REPO / name, source / name)
    out = tmp_path / "dist"
    pip = (sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index")
    run(*pip, "--no-build-isolation", "--wheel-dir", out, source, cwd=tmp_path)
    (wheel,) = out.glob("openfabric-*.whl")
    return wheel


def make_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).strip()
    )
    # The system site-packages lack the dependencies when this suite runs from a venv; a plain
    # path line adds ours without running their .pth files, so the editable install of the
    # checkout stays out and `agent` can only come from the wheel.
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "outer-environment.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    return venv


def test_the_wheel_ships_every_dashboard_file(tmp_path: Path) -> None:
    wanted = {
        "agent/dashboard/" + str(path.relative_to(STATIC.parent))
        for path in STATIC.rglob("*")
        if path.is_file()
    }
    assert "agent/dashboard/static/index.html" in wanted
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        assert wanted <= set(wheel.namelist())


def test_an_installed_agent_serves_the_dashboard(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    venv = make_venv(tmp_path)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "--quiet")
    run(*pip, "--no-deps", "--no-index", wheel, cwd=tmp_path)

    where = run(python, "-c", "import agent.dashboard as d; print(d.DEFAULT_DIR)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv), where

    script = venv / "bin" / "openfabric"
    with agent_process(tmp_path / "home", command=[str(script), "serve"], cwd=tmp_path) as agent:
        page = httpx.get(agent.url + "/", timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.text == (STATIC / "index.html").read_text()
        # Every asset, vendored libraries included, comes from the installed package as is.
        for path in (STATIC / "assets").rglob("*"):
            if path.is_file():
                url = f"{agent.url}/assets/{path.relative_to(STATIC / 'assets').as_posix()}"
                served = httpx.get(url, timeout=10)
                assert served.status_code == 200, url
                assert served.content == path.read_bytes(), url
        deep = httpx.get(agent.url + "/tasks", headers={"Accept": "text/html"}, timeout=10)
        assert deep.status_code == 200
        assert deep.text == page.text
        if CHROMIUM is not None:
            boots_in_a_browser(agent)


def boots_in_a_browser(agent: AgentProcess) -> None:
    """The installed dashboard signs in, opens its event stream and shows its pages."""
    code = httpx.post(agent.url + "/api/auth/login-code", headers=agent.headers(), timeout=10)
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(agent.url + code.json()["login_path"])
            expect = sync_api.expect
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
            expect(page.locator("#nav-list a")).not_to_have_count(0)
        finally:
            browser.close()
    assert problems == []
