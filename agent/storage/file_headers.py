"""Response headers for stored files, so a file can never script the API's origin.

Stored files come from anyone who can upload, and they are served from the origin whose
cookie drives the API (the dashboard's). So every file response (200, 206, HEAD, 304) says:
- `Content-Disposition: attachment` unless the client asked for inline display and the type
  is inert (an image, audio or video, or plain text); HTML, SVG, XML, JavaScript, CSS, PDF and
  everything unknown are always attachments.
- `Content-Type` from the allow-list only; anything else is `application/octet-stream`, and
  text is always `text/plain; charset=utf-8` (no charset sniffing into UTF-7 and the like).
- `X-Content-Type-Options: nosniff`, so the browser keeps that type.
- `Content-Security-Policy: default-src 'none'; sandbox`: even a document that somehow renders
  runs in an opaque origin with no scripts, no forms and no requests.
- `Cross-Origin-Resource-Policy: same-origin`: other sites cannot embed the bytes.

The file name goes in both `filename="..."` (printable ASCII, quotes, backslashes, `%` and
everything else replaced by `_`) and `filename*=UTF-8''...` (RFC 8187 percent-encoding), so
no name can end the header or add another.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

SANDBOX = "default-src 'none'; sandbox"
OCTET_STREAM = "application/octet-stream"
PLAIN_TEXT = "text/plain; charset=utf-8"
_INERT_IMAGES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"}
)
# Text shown as plain text; other text/* (html, xml, css, javascript) is active or parsed.
_PLAIN = frozenset({"text/plain", "text/csv", "text/markdown", "text/x-log"})
# RFC 8187 attr-char beside alphanumerics: what may stay unencoded in filename*.
_ATTR_CHARS = "!#$&+-.^_`|~"
# Python's own table, not the machine's /etc/mime.types: what is inert must not vary by host.
_TYPES = mimetypes.MimeTypes()
for _extension in (".md", ".markdown", ".log"):
    _TYPES.add_type("text/plain", _extension)


def file_type(path: str) -> tuple[str, bool]:
    """The Content-Type a stored file is served with, and whether it is inert (may be
    shown inline)."""
    guessed = (_TYPES.guess_type(path)[0] or "").lower()
    if guessed in _PLAIN:
        return PLAIN_TEXT, True
    if guessed in _INERT_IMAGES or guessed.startswith(("audio/", "video/")):
        return guessed, True
    return OCTET_STREAM, False


def ascii_filename(name: str) -> str:
    kept = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in name)
    return kept.strip() or "download"


def content_disposition(path: str, inline: bool) -> str:
    name = path.rsplit("/", 1)[-1]
    kind = "inline" if inline else "attachment"
    encoded = quote(name, safe=_ATTR_CHARS, encoding="utf-8", errors="replace")
    return f"{kind}; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{encoded}"


def security_headers() -> dict[str, str]:
    """What every response about a stored file carries, error answers included."""
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX,
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def file_headers(path: str, want_inline: bool) -> dict[str, str]:
    """Content-Type, Content-Disposition and the security headers for serving `path`."""
    kind, inert = file_type(path)
    return {
        "Content-Type": kind,
        "Content-Disposition": content_disposition(path, want_inline and inert),
        **security_headers(),
    }
