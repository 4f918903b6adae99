"""A source file as text, or the reason it is skipped.

Plain text, Markdown and source code are read as UTF-8 (streaming, in blocks); HTML through
BeautifulSoup (text only, scripts and styles dropped); PDF through pypdf, page by page.
`content_hash` is the SHA-256 of the file's bytes, so an unchanged file is known as such
whatever its name or time. Skipped, with the reason: binaries (a NUL byte in the first block),
files over `max_bytes`, types not read, and files that cannot be read or decoded.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.brain.chunking import Kind

BLOCK = 64 * 1024
MARKDOWN = frozenset({".md", ".markdown", ".mdx"})
TEXT = frozenset({".txt", ".text", ".rst", ".adoc", ".org", ".csv", ".log", ""})
CODE = frozenset(
    {
        ".py", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".c", ".h", ".cc", ".cpp",
        ".hpp", ".java", ".kt", ".swift", ".rb", ".php", ".sh", ".bash", ".zsh", ".lua", ".sql",
        ".cs", ".scala", ".r", ".toml", ".yaml", ".yml", ".json", ".ini", ".cfg", ".css",
    }
)  # fmt: skip
HTML = frozenset({".html", ".htm", ".xhtml"})
PDF = frozenset({".pdf"})

Reason = Literal["binary", "too_large", "unsupported", "unreadable"]


@dataclass(frozen=True)
class Extracted:
    text: str
    kind: Kind
    content_hash: str
    size: int


@dataclass(frozen=True)
class Skipped:
    reason: Reason
    detail: str


def kind_of(path: Path) -> Literal["markdown", "code", "text", "html", "pdf"] | None:
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return "markdown"
    if suffix in CODE:
        return "code"
    if suffix in HTML:
        return "html"
    if suffix in PDF:
        return "pdf"
    if suffix in TEXT:
        return "text"
    return None


def extract(path: Path, max_bytes: int) -> Extracted | Skipped:
    kind = kind_of(path)
    if kind is None:
        return Skipped("unsupported", f"files ending {path.suffix!r} are not read")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped("too_large", f"{size} bytes, over the {max_bytes} byte limit")
        if kind == "pdf":
            return _pdf(path, size)
        raw, text = _read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        return Skipped("unreadable", str(exc))
    except _Binary:
        return Skipped("binary", "a NUL byte in its first block")
    if kind == "html":
        return Extracted(_html_text(text), "text", raw, size)
    return Extracted(text, kind, raw, size)


class _Binary(Exception):
    pass


def _read_text(path: Path) -> tuple[str, str]:
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    parts: list[str] = []
    with path.open("rb") as handle:
        first = True
        while block := handle.read(BLOCK):
            if first and b"\0" in block:
                raise _Binary
            first = False
            digest.update(block)
            parts.append(decoder.decode(block))
        parts.append(decoder.decode(b"", final=True))
    return digest.hexdigest(), "".join(parts)


def _html_text(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    # Blank lines between blocks stay paragraph breaks; runs of them collapse.
    text, blank = [], False
    for line in lines:
        if line:
            text.append(line)
            blank = False
        elif not blank and text:
            text.append("")
            blank = True
    return "\n".join(text).strip()


def _pdf(path: Path, size: int) -> Extracted | Skipped:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    try:
        reader = PdfReader(path)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        return Skipped("unreadable", f"not a readable PDF: {exc}")
    # Pages become paragraphs, so chunks follow page breaks where they can.
    return Extracted("\n\n".join(p for p in pages if p), "text", digest.hexdigest(), size)
