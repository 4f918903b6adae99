"""Finding 14: an existing home folder is made private at start.

A home created by hand (or restored from a backup) kept its 0755 mode, leaving fabric.db,
the logs and the stored chunks readable by every local user.
"""

from __future__ import annotations

import stat
from pathlib import Path

from starlette.testclient import TestClient

from agent.app import create_app
from tests.harness import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_an_open_home_is_closed_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for folder in (home, home / "identity", home / "logs" / "old", home / "storage" / "chunks"):
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    files = {
        home / "fabric.db": 0o644,
        home / "config.yaml": 0o666,
        home / "logs" / "agent.log": 0o644,
        home / "logs" / "old" / "agent.log.1": 0o644,
        home / "storage" / "chunks" / "ab": 0o644,
    }
    for path, wanted in files.items():
        path.write_bytes(b"")
        path.chmod(wanted)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (home / "link").symlink_to(outside)

    app = create_app(make_settings(home, port=4892))
    with TestClient(app, base_url="http://127.0.0.1:4892"):
        assert mode(home) == 0o700
        for folder in (home / "identity", home / "logs", home / "logs" / "old", home / "storage"):
            assert mode(folder) == 0o700, folder
        for path in (
            home / "fabric.db",
            home / "config.yaml",
            home / "logs" / "agent.log",
            home / "logs" / "old" / "agent.log.1",
            home / "local.token",
        ):
            assert mode(path) == 0o600, path
        for key in (home / "identity").iterdir():
            assert mode(key) & 0o077 == 0, key
        # A symlink's target is not ours to change; behind a 0700 home a chunk is unreachable.
        assert mode(outside) == 0o644
