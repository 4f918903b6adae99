"""The pure parts of search: FTS5 expressions from hostile text, rank fusion, snippets."""

from __future__ import annotations

import sqlite3

import pytest

from agent.brain.search import fts_match, fuse, snippet


@pytest.mark.parametrize(
    "query",
    ['"', "NEAR(a b)", "a OR b AND NOT c", "col:term", "*", "a^b", "'); DROP TABLE x; --", "ü ß"],
)
def test_query_text_is_never_fts5_syntax(query: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61')")
    conn.execute("INSERT INTO t VALUES ('near a b or c drop table x col term ü ß')")
    match = fts_match(query)
    if match is not None:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall()


def test_a_query_without_words_matches_nothing_lexically() -> None:
    assert fts_match("?! -- ...") is None


def test_fusion_ranks_what_both_lists_found_first() -> None:
    fused = fuse([[1, 2, 3], [3, 4, 1]], 3)
    assert [i for i, _ in fused][:2] == [1, 3]
    assert len(fused) == 3


def test_snippet_is_bounded_and_centred_on_a_query_word() -> None:
    text = "filler " * 200 + "the lighthouse keeper " + "filler " * 200
    cut = snippet(text, "lighthouse")
    assert "lighthouse" in cut
    assert len(cut) <= 242
    assert snippet("short text", "x") == "short text"


def test_common_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert fts_match("When is the cat's vaccination?") == '"cat" OR "s" OR "vaccination"'
    assert fts_match("what is it") == '"what" OR "is" OR "it"'
