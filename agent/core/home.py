"""The home folder is private to the agent's account, whatever mode it was found with.

A home made by hand (or by an older version, or restored from a backup) can be 0755 with a
0644 fabric.db: task commands, environment values and chat history readable by every local
user. At each start the home becomes 0700 and what lies directly in it, and in the small
folders holding secrets or logs, becomes owner-only. Large trees (storage/, brain/) only
have their own folder closed: behind a 0700 home nobody else can reach them anyway.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("openfabric.home")
PRIVATE_DIR = 0o700
# Small folders whose files are tightened one by one, not only through the home's mode.
WALKED = ("identity", "logs")


def secure_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _tighten(home)
    for entry in _entries(home):
        _tighten(entry)
        if entry.name in WALKED and entry.is_dir() and not entry.is_symlink():
            for root, dirs, files in os.walk(entry):
                for name in [*dirs, *files]:
                    _tighten(Path(root) / name)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as exc:
        log.warning("cannot list %s to make it private: %s", folder, exc.strerror)
        return []


def _tighten(path: Path) -> None:
    """Drop group and other bits; a symlink is left alone (chmod would follow it)."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return
        mode = stat.S_IMODE(info.st_mode)
        wanted = PRIVATE_DIR if stat.S_ISDIR(info.st_mode) else mode & 0o700
        if mode != wanted:
            path.chmod(wanted)
    except OSError as exc:
        log.warning("cannot make %s private: %s", path, exc.strerror)
