"""Finding the files under a source.

Symbolic links are never followed (a link could lead out of the source, or in a loop), and
hidden entries and the usual build and dependency folders are left out, as a person would
expect of "index my documents". Blocking: run it in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

IGNORED_DIRS = frozenset(
    {"node_modules", "__pycache__", "venv", "site-packages", "dist", "build", "target"}
)


def ignored(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS


def files_under(root: Path) -> Iterator[str]:
    """Every regular file at or below `root` (a file or a folder), as an absolute path."""
    if root.is_symlink():
        return
    if root.is_file():
        yield str(root)
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not ignored(d))
        for name in sorted(files):
            if ignored(name):
                continue
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                yield path


def within(path: str, roots: list[str]) -> bool:
    """Whether `path` is one of `roots` or below one (whole path segments)."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def hidden_below(path: str, roots: list[str]) -> bool:
    """Whether some segment of `path` below its source is one that `files_under` leaves out."""
    for root in roots:
        if within(path, [root]):
            rest = path[len(root.rstrip("/")) :].strip("/")
            return any(ignored(part) for part in rest.split("/") if part)
    return False
