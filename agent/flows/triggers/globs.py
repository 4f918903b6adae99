"""Path globs as fnmatch writes them, plus `**` for any number of folders.

`*` and `?` stay inside one folder name, `[abc]`/`[!abc]` is one character of a set, and a
`**` segment matches zero or more whole folders (`docs/**/*.md` matches `docs/a.md` and
`docs/x/y/a.md`; a trailing `/**` everything below). Matching is on `/`-separated text.
"""

from __future__ import annotations

import re

MAGIC = "*?["


def compile_glob(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append(_segment(part) + ("" if last else "/"))
    return re.compile("".join(out), re.DOTALL)


def matches(pattern: re.Pattern[str], path: str) -> bool:
    return pattern.fullmatch(path) is not None


def fixed_root(pattern: str) -> str:
    """The folder a glob's matches all lie in: its leading segments that hold no wildcard
    (a pattern without any names one file: its folder)."""
    parts = pattern.split("/")
    fixed: list[str] = []
    for part in parts[:-1]:
        if any(c in part for c in MAGIC):
            break
        fixed.append(part)
    root = "/".join(fixed)
    return root or ("/" if pattern.startswith("/") else ".")


def _segment(part: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
            while i + 1 < len(part) and part[i + 1] == "*":
                i += 1
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := _class_end(part, i)) > 0:
            body = part[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[^/{escaped}]" if negate else f"(?!/)[{escaped}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_end(part: str, start: int) -> int:
    # `[]a]` holds `]`; an unclosed `[` is a plain character, as fnmatch has it.
    i = start + 1
    if i < len(part) and part[i] == "!":
        i += 1
    if i < len(part) and part[i] == "]":
        i += 1
    end = part.find("]", i)
    return end
