"""The near-duplicate threshold against the real model (all-MiniLM-L6-v2): paraphrases of an
active fact are that fact; corrections of it are new facts. Scores are those measured when the
threshold was chosen (see agent/memory/text.py), within a small tolerance for other hardware."""

from __future__ import annotations

import pytest

from agent.brain.embedder import SentenceEmbedder
from agent.core.recollection import FactClaim
from agent.memory.text import NEAR_DUPLICATE, anchors, near_duplicate, normalise, same_anchors
from tests.memory.kit import Node

TOLERANCE = 0.01
PARAPHRASES = [
    ("I live in Paris", "I'm living in Paris", 0.928),
    ("My favourite colour is blue", "My favorite color is blue", 0.965),
    ("My editor is vim", "Vim is my editor", 0.978),
    ("The user's name is Alice", "User is named Alice", 0.940),
    ("My timezone is Europe/Paris", "My time zone is Europe/Paris", 0.972),
]
# Below the threshold on cosine alone.
CORRECTIONS = [
    ("My editor is vim", "My editor is emacs", 0.748),
    ("I live in Paris", "I live in Berlin", 0.603),
    ("My dog is called Rex", "My cat is called Rex", 0.891),
    ("The user prefers dark mode", "The user prefers light mode", 0.848),
    ("My favourite colour is blue", "My favourite colour is green", 0.853),
]
# Above or near it on cosine: told apart by their anchors.
ANCHORED = [
    ("I am vegetarian", "I am not vegetarian", 0.950),
    ("The deadline is next Friday afternoon", "The deadline is next Monday afternoon", None),
    ("I have two children", "I have three children", 0.919),
    ("I don't eat meat", "I eat meat", None),
]


def cosine(encoder: SentenceEmbedder, a: str, b: str) -> float:
    vectors = encoder.encode([a, b])
    return float(vectors[0] @ vectors[1])


@pytest.mark.parametrize(("old", "new", "measured"), PARAPHRASES)
async def test_a_paraphrase_is_the_active_fact(
    node: Node, encoder: SentenceEmbedder, old: str, new: str, measured: float
) -> None:
    score = cosine(encoder, old, new)
    assert score == pytest.approx(measured, abs=TOLERANCE)
    assert near_duplicate(score, new, old)
    [first] = await node.service.remember([FactClaim(old)], source="manual", session_id=None)
    [again] = await node.service.remember([FactClaim(new)], source="chat", session_id=None)
    assert (again.id, again.outcome) == (first.id, "existing")


@pytest.mark.parametrize(("old", "new", "measured"), CORRECTIONS)
async def test_a_correction_stays_below_the_threshold(
    node: Node, encoder: SentenceEmbedder, old: str, new: str, measured: float
) -> None:
    score = cosine(encoder, old, new)
    assert score == pytest.approx(measured, abs=TOLERANCE)
    assert score < NEAR_DUPLICATE
    await node.service.remember([FactClaim(old)], source="manual", session_id=None)
    [second] = await node.service.remember([FactClaim(new)], source="manual", session_id=None)
    assert second.outcome == "created"
    assert (await node.service.listing(False)).count == 2


@pytest.mark.parametrize(("old", "new", "measured"), ANCHORED)
async def test_a_correction_with_other_anchors_is_a_new_fact(
    node: Node, encoder: SentenceEmbedder, old: str, new: str, measured: float | None
) -> None:
    if measured is not None:
        assert cosine(encoder, old, new) == pytest.approx(measured, abs=TOLERANCE)
    assert not same_anchors(new, old)
    await node.service.remember([FactClaim(old)], source="manual", session_id=None)
    [second] = await node.service.remember([FactClaim(new)], source="manual", session_id=None)
    assert second.outcome == "created"


async def test_without_an_encoder_duplicates_are_found_by_text(bare: Node) -> None:
    [first] = await bare.service.remember(
        [FactClaim("I live in Paris")], source="manual", session_id=None
    )
    [same] = await bare.service.remember(
        [FactClaim("i live in paris!")], source="manual", session_id=None
    )
    [other] = await bare.service.remember(
        [FactClaim("I'm living in Paris")], source="manual", session_id=None
    )
    assert (same.id, same.outcome) == (first.id, "existing")
    assert other.outcome == "created"


def test_normalising_and_anchors() -> None:
    assert normalise("  My\teditor   IS vim!!! ") == "my editor is vim"
    # Full-width letters and an ellipsis, as some keyboards type them.
    assert (
        normalise("\uff2d\uff59 \uff45\uff44\uff49\uff54\uff4f\uff52 is vim\u2026")
        == "my editor is vim"
    )
    assert normalise("?!.") == ""
    assert anchors("Since 2020 I live in Paris") == {"2020", "paris"}
    assert anchors("I can't swim") == {"not"}
    assert same_anchors("Vim is my editor", "My editor is vim")
    assert not same_anchors("I live in Paris", "I live in Paris, France")
