"""Chunks by structure first, then by size; each keeps its lines and headings."""

from __future__ import annotations

import itertools

from agent.brain.chunking import OVERLAP, TARGET, chunk

GUIDE = """# Guide

Intro paragraph about the fabric.

## Install

Run make serve.

```sh
make serve

make test
```

## Use

### Tasks

Submit with openfabric tasks run.
"""


def lines_of(text: str, start: int, end: int) -> str:
    return "\n".join(text.splitlines()[start - 1 : end])


def test_markdown_keeps_headings_lines_and_whole_fences() -> None:
    chunks = chunk(GUIDE, "markdown", target=40)
    by_text = {c.text: c for c in chunks}
    intro = by_text["Intro paragraph about the fabric."]
    assert intro.heading == ("Guide",)
    assert (intro.start_line, intro.end_line) == (3, 3)
    fence = next(c for c in chunks if c.text.startswith("```sh"))
    # The blank line inside the fence does not split it.
    assert "make serve\n\nmake test" in fence.text
    assert fence.heading == ("Guide", "Install")
    assert fence.text == lines_of(GUIDE, fence.start_line, fence.end_line)
    tasks = next(c for c in chunks if "tasks run" in c.text)
    assert tasks.heading == ("Guide", "Use", "Tasks")
    for c in chunks:
        assert c.text.strip() in lines_of(GUIDE, c.start_line, c.end_line)


def test_sections_are_not_mixed_in_one_chunk() -> None:
    chunks = chunk(GUIDE, "markdown")
    assert len({c.heading for c in chunks}) == len(chunks)


def test_short_files_are_one_chunk_never_dropped() -> None:
    assert [c.text for c in chunk("hi", "text")] == ["hi"]
    assert [c.text for c in chunk("# Only a title\n", "markdown")] == ["# Only a title"]
    assert chunk("  \n\n ", "text") == []


def test_code_splits_at_top_level_definitions() -> None:
    source = "import os\n\n\ndef a():\n    return 1\n\n    # still a\n\ndef b():\n    pass\n"
    chunks = chunk(source, "code", target=40)
    texts = [c.text for c in chunks]
    assert any(t.startswith("def a():") and "# still a" in t for t in texts)
    assert any(t.startswith("def b():") for t in texts)
    b = next(c for c in chunks if c.text.startswith("def b"))
    assert (b.start_line, b.end_line) == (9, 10)


def test_long_blocks_are_cut_with_overlap() -> None:
    lines = [f"line {i:04d} " + "word " * 20 for i in range(200)]
    text = "\n".join(lines)  # one paragraph, far over the target
    chunks = chunk(text, "text")
    assert len(chunks) > 5
    assert all(len(c.text) <= TARGET for c in chunks)
    for before, after in itertools.pairwise(chunks):
        # Neighbours share lines (about OVERLAP characters), and nothing is skipped.
        assert after.start_line <= before.end_line
        assert after.start_line > before.start_line
        shared = before.end_line - after.start_line + 1
        assert 0 < shared * len(lines[0]) <= OVERLAP + len(lines[0])
    assert chunks[0].start_line == 1
    assert chunks[-1].end_line == 200


def test_one_huge_line_is_cut_by_characters() -> None:
    text = "x" * 5000
    chunks = chunk(text, "text")
    assert all(len(c.text) <= TARGET for c in chunks)
    assert all((c.start_line, c.end_line) == (1, 1) for c in chunks)
    assert "".join(c.text[: TARGET - OVERLAP] for c in chunks[:-1]) + chunks[-1].text == text
