"""Chunks by structure first, then by size.

A document is cut into blocks along its own structure: Markdown by headings, paragraphs and
fenced code (never inside a fence); source code at top-level definitions (a line at column 0
after a blank line); other text at blank lines. Blocks are then packed into chunks of about
`target` characters; a block longer than that is cut at line boundaries (or, for one huge
line, by characters) with `overlap` characters repeated between neighbours, so a sentence cut
in two is still whole in one of them. Every chunk keeps its 1-based, inclusive line range and,
for Markdown, the path of headings above it. A short file is one chunk, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["markdown", "code", "text"]

TARGET = 1000
OVERLAP = 150
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int
    end_line: int
    heading: tuple[str, ...] = ()


@dataclass
class _Block:
    lines: list[str]
    start: int  # 1-based line number of lines[0]
    heading: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def chunk(text: str, kind: Kind, *, target: int = TARGET, overlap: int = OVERLAP) -> list[Chunk]:
    if not text.strip():
        return []
    lines = text.splitlines()
    if kind == "markdown":
        blocks = _markdown_blocks(lines)
    elif kind == "code":
        blocks = _code_blocks(lines)
    else:
        blocks = _paragraphs(lines, 1, ())
    chunks = _pack([b for b in blocks if "".join(b.lines).strip()], target, overlap)
    if not chunks:  # only headings or fences' markers: still a file worth finding
        return [Chunk(text.strip(), 1, len(lines))]
    return chunks


def _paragraphs(lines: list[str], first: int, heading: tuple[str, ...]) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []
    start = first
    for offset, line in enumerate(lines):
        if line.strip():
            if not current:
                start = first + offset
            current.append(line)
        elif current:
            blocks.append(_Block(current, start, heading))
            current = []
    if current:
        blocks.append(_Block(current, start, heading))
    return blocks


def _markdown_blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    path: list[tuple[int, str]] = []
    prose: list[str] = []
    prose_start = 1
    fence: list[str] | None = None  # the open code fence's lines
    fence_start = 1

    def heading() -> tuple[str, ...]:
        return tuple(title for _, title in path)

    def flush_prose() -> None:
        nonlocal prose
        if prose:
            blocks.extend(_paragraphs(prose, prose_start, heading()))
        prose = []

    for number, line in enumerate(lines, start=1):
        if fence is not None:
            fence.append(line)
            if _FENCE.match(line):
                blocks.append(_Block(fence, fence_start, heading()))
                fence = None
            continue
        if _FENCE.match(line):
            flush_prose()
            fence, fence_start = [line], number
            continue
        found = _HEADING.match(line)
        if found:
            flush_prose()
            level = len(found.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level] + [(level, found.group(2))]
            continue
        if not prose:
            prose_start = number
        prose.append(line)
    if fence is not None:  # an unclosed fence runs to the end of the file
        blocks.append(_Block(fence, fence_start, heading()))
    flush_prose()
    return blocks


def _code_blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(lines, start=1):
        top_level = bool(line) and not line[0].isspace()
        after_blank = not current or not current[-1].strip()
        if current and top_level and after_blank:
            blocks.append(_Block(current, start, ()))
            current = []
        if not current:
            if not line.strip():
                continue
            start = number
        current.append(line)
    if current:
        blocks.append(_Block(current, start, ()))
    return blocks


def _pack(blocks: list[_Block], target: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    group: list[_Block] = []
    size = 0

    def emit() -> None:
        nonlocal group, size
        if group:
            text = "\n\n".join(b.text.strip("\n") for b in group)
            end = group[-1].start + len(group[-1].lines) - 1
            chunks.append(Chunk(text, group[0].start, end, group[0].heading))
        group, size = [], 0

    for block in blocks:
        length = len(block.text)
        if length > target:
            emit()
            chunks.extend(_split(block, target, overlap))
            continue
        if group and (size + length > target or block.heading != group[0].heading):
            emit()
        group.append(block)
        size += length + 2
    emit()
    return chunks


def _split(block: _Block, target: int, overlap: int) -> list[Chunk]:
    """A block too long for one chunk: windows of whole lines, neighbours overlapping."""
    pieces: list[Chunk] = []
    lines = block.lines
    i = 0
    while i < len(lines):
        if len(lines[i]) > target:
            pieces.extend(_split_line(lines[i], block.start + i, block.heading, target, overlap))
            i += 1
            continue
        j, size = i, 0
        while j < len(lines) and len(lines[j]) <= target and size + len(lines[j]) <= target:
            size += len(lines[j]) + 1
            j += 1
        text = "\n".join(lines[i:j])
        pieces.append(Chunk(text, block.start + i, block.start + j - 1, block.heading))
        if j >= len(lines):
            break
        # Step back over whole lines worth about `overlap` characters.
        back, kept = j, 0
        while back - 1 > i and kept + len(lines[back - 1]) <= overlap:
            back -= 1
            kept += len(lines[back]) + 1
        i = back if back > i else j
    return pieces


def _split_line(
    line: str, number: int, heading: tuple[str, ...], target: int, overlap: int
) -> list[Chunk]:
    step = max(1, target - overlap)
    return [
        Chunk(line[at : at + target], number, number, heading) for at in range(0, len(line), step)
    ]
