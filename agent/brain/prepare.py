"""Looking at one queued path, in a worker thread: what became of it since it was indexed.

The answer is one of: gone (nothing there any more, or a link), a folder (to walk), the same
file as before (size and modification time unchanged, or the same bytes), skipped (with the
reason), or new content cut into chunks, each with the text the model encodes and its hash.
A chunk's hash covers the model and that text, so a chunk seen before (in any file, before a
restart, in the old version of a modified file) is never encoded again.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from agent.brain.chunking import Chunk, chunk
from agent.brain.extract import Extracted, Skipped, extract
from agent.brain.store import FileState

MAX_CHUNKS_PER_FILE = 20_000


@dataclass(frozen=True)
class Gone:
    path: str


@dataclass(frozen=True)
class Folder:
    path: str


@dataclass(frozen=True)
class Unchanged:
    path: str
    size: int
    mtime_ns: int
    # False when only the time changed (the stored time is brought up to date).
    same_time: bool
    # Still skipped, as it was (for the same reason).
    skipped: bool = False


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str
    detail: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Piece:
    chunk: Chunk
    embed_text: str
    text_hash: str


@dataclass(frozen=True)
class Changed:
    path: str
    content_hash: str
    kind: str
    size: int
    mtime_ns: int
    pieces: list[Piece]


Looked = Gone | Folder | Unchanged | Skip | Changed


def embed_text(piece: Chunk) -> str:
    """What the model reads: the heading path gives a short chunk its context."""
    if not piece.heading:
        return piece.text
    return " > ".join(piece.heading) + "\n\n" + piece.text


def text_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


def look(path: str, known: FileState | None, model: str, max_bytes: int) -> Looked:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return Gone(path)
    except OSError as exc:
        return Skip(path, "unreadable", exc.strerror or str(exc), 0, 0)
    if stat.S_ISLNK(info.st_mode):
        return Gone(path)
    if stat.S_ISDIR(info.st_mode):
        return Folder(path)
    if not stat.S_ISREG(info.st_mode):
        return Gone(path)
    size, mtime_ns = info.st_size, info.st_mtime_ns
    if known is not None and (known.size, known.mtime_ns) == (size, mtime_ns):
        return Unchanged(path, size, mtime_ns, same_time=True, skipped=known.skipped)
    found = extract(Path(path), max_bytes)
    if isinstance(found, Skipped):
        return Skip(path, found.reason, found.detail, size, mtime_ns)
    if known is not None and not known.skipped and known.content_hash == found.content_hash:
        return Unchanged(path, size, mtime_ns, same_time=False)
    return _cut(path, found, model, mtime_ns)


def _cut(path: str, found: Extracted, model: str, mtime_ns: int) -> Changed | Skip:
    chunks = chunk(found.text, found.kind)
    if len(chunks) > MAX_CHUNKS_PER_FILE:
        return Skip(
            path,
            "too_large",
            f"{len(chunks)} chunks, over the {MAX_CHUNKS_PER_FILE} chunk limit",
            found.size,
            mtime_ns,
        )
    pieces = []
    for c in chunks:
        text = embed_text(c)
        pieces.append(Piece(c, text, text_hash(model, text)))
    return Changed(path, found.content_hash, found.kind, found.size, mtime_ns, pieces)
