"""Deleting files past an age: for rotated logs, which `RotatingFileHandler` bounds by size
only, so on a quiet node a rotated file could otherwise be kept for years."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path


def prune_older_than(
    directory: Path, pattern: str, max_age_s: float, now: float | None = None
) -> list[Path]:
    """Delete the regular files in `directory` matching `pattern` last modified more than
    `max_age_s` ago (`max_age_s <= 0` keeps everything); answers what was deleted."""
    if max_age_s <= 0:
        return []
    cutoff = (time.time() if now is None else now) - max_age_s
    deleted: list[Path] = []
    with contextlib.suppress(OSError):
        for path in sorted(directory.glob(pattern)):
            with contextlib.suppress(OSError):
                # lstat: a link is judged (and removed) itself, never what it points to.
                info = path.lstat()
                if path.is_file() and not path.is_symlink() and info.st_mtime < cutoff:
                    path.unlink()
                    deleted.append(path)
    return deleted
