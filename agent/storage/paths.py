"""Canonical storage paths.

A storage path names a file in the cluster's shared namespace. `normalize` returns its one
canonical form or raises `InvalidPath` (a `ValueError`, answered with 400) whose message names
the problem. The router has already URL-decoded the path, so `%2e%2e` is a literal name.

Canonical form: relative, `/`-separated, NFC-normalised Unicode, no leading or trailing slash,
no empty components (duplicate slashes collapse: `a//b` -> `a/b`), each component at most
255 bytes of UTF-8 and the whole path at most 1024 bytes.

Refused rather than repaired, because a name that needs resolving is a mistake or an attack:
absolute paths, any `.` or `..` component (`a/./b`, `a/../b`), a trailing slash (a directory,
not a file), empty or whitespace-only paths and components, NUL and other control characters
(C0, DEL, C1), backslashes, lone surrogates, and over-long names. Dot-files (`.hidden`) are
ordinary names. NFC does not fold look-alikes: two U+FF0E (fullwidth full stop) stay literal.
"""

from __future__ import annotations

import unicodedata

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 1024
# Inputs this long cannot shrink to a valid path except by absurd slash runs; refuse them
# before doing per-character work.
_MAX_INPUT_CHARS = 4 * MAX_PATH_BYTES


class InvalidPath(ValueError):
    """A storage path that has no canonical form; the message says why, for the client."""


def normalize(path: str) -> str:
    """The canonical form of a file path; raises `InvalidPath`."""
    _check_text(path, "path")
    if path.endswith("/"):
        raise InvalidPath("path must name a file, so it cannot end with '/'")
    return _canonical(path, "path")


def normalize_prefix(prefix: str) -> str:
    """The canonical form of a listing prefix; `""` means everything.

    Same rules as `normalize`, except that the empty string is allowed and trailing slashes
    are stripped (`docs/` -> `docs`).
    """
    if prefix == "":
        return ""
    _check_text(prefix, "prefix")
    return _canonical(prefix.rstrip("/"), "prefix")


def _check_text(text: object, what: str) -> None:
    """Refuse inputs that are wrong as a whole, before splitting into components."""
    if not isinstance(text, str):
        raise InvalidPath(f"{what} must be a string")
    if text == "":
        raise InvalidPath(f"{what} is empty")
    if len(text) > _MAX_INPUT_CHARS:
        raise InvalidPath(f"{what} is too long: the limit is {MAX_PATH_BYTES} bytes")
    if "\x00" in text:
        raise InvalidPath(f"{what} contains a NUL byte")
    for char in text:
        if unicodedata.category(char) == "Cc":
            raise InvalidPath(f"{what} contains a control character (U+{ord(char):04X})")
    if "\\" in text:
        raise InvalidPath(f"{what} contains a backslash; separate components with '/'")
    if not text.strip():
        raise InvalidPath(f"{what} is whitespace-only")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPath(f"{what} is not valid Unicode (it has a lone surrogate)") from None
    if text.startswith("/"):
        raise InvalidPath(f"{what} must be relative, not absolute (it starts with '/')")


def _canonical(text: str, what: str) -> str:
    parts = [part for part in unicodedata.normalize("NFC", text).split("/") if part]
    for part in parts:
        if part in (".", ".."):
            raise InvalidPath(f"{what} must not contain a '{part}' component")
        if not part.strip():
            raise InvalidPath(f"{what} has a whitespace-only component")
        size = len(part.encode("utf-8"))
        if size > MAX_COMPONENT_BYTES:
            raise InvalidPath(
                f"{what} component {part[:24]!r}... is {size} bytes; "
                f"the limit is {MAX_COMPONENT_BYTES}"
            )
    result = "/".join(parts)
    size = len(result.encode("utf-8"))
    if size > MAX_PATH_BYTES:
        raise InvalidPath(f"{what} is {size} bytes; the limit is {MAX_PATH_BYTES}")
    return result
