"""The MCP SDK (tens of MB) is loaded only once a server starts or an MCP client comes: an
agent that never uses MCP never pays for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from agent.app import create_app
from tests.harness import make_settings
create_app(make_settings(__import__("pathlib").Path(sys.argv[1]), port=4892))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("mcp", "mcp_types", "httpx2"))
print(",".join(loaded))
"""


def test_building_the_agent_loads_no_mcp_sdk(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "home")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_cli_loads_no_mcp_sdk_until_mcp_serve() -> None:
    probe = (
        "import sys, cli.main; "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
