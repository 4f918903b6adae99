"""What makes two statements of a fact the same: their normalised text, or (with a working
encoder) vectors close enough that neither could be a correction of the other.

The near-duplicate threshold was measured on all-MiniLM-L6-v2 (unit vectors, cosine):

- paraphrases: "I live in Paris" / "I'm living in Paris" 0.928, "My favourite colour is blue" /
  "My favorite color is blue" 0.965, "My editor is vim" / "Vim is my editor" 0.978, "The
  user's name is Alice" / "User is named Alice" 0.940, "My timezone is Europe/Paris" / "My
  time zone is Europe/Paris" 0.972; looser ones stay below and are kept as two facts
  ("I use vim as my editor" 0.876, "I have two children" / "I've got two kids" 0.834).
- corrections: "My editor is vim" / "My editor is emacs" 0.748, "I live in Paris" / "I live
  in Berlin" 0.603, "My dog is called Rex" / "My cat is called Rex" 0.891, "The user prefers
  dark mode" / "... light mode" 0.848, "My favourite colour is blue" / "... green" 0.853.

Cosine alone cannot tell some corrections from paraphrases: "I am vegetarian" / "I am not
vegetarian" 0.950, "... next Friday afternoon" / "... next Monday afternoon" 0.956, "I have
two children" / "I have three children" 0.919. So a near-duplicate must also carry the same
anchors (numbers, number words, negations, proper nouns): any anchor of one text missing from
the other means a different fact. What no lexical check catches is the same words reordered
("I prefer tea over coffee" / "I prefer coffee over tea" 0.993): such a correction needs a key
or `replaces`, which supersede before any similarity is looked at.
"""

from __future__ import annotations

import re
import unicodedata

# Above every measured correction without anchors (0.891), below most close paraphrases.
NEAR_DUPLICATE = 0.92

_SPACES = re.compile(r"\s+")
# After NFKC, which turns full-width marks and the ellipsis into these.
_TRAILING = re.compile("[\\s.!?,;:\u3002]+$")
_WORD = re.compile("[\\w'\u2019]+")
_PRONOUN_I = re.compile("i(['\u2019](m|ve|d|ll))?")
_NEGATIONS = frozenset(
    {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot"}
)
_NUMBER_WORDS = frozenset(
    {
        *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
        *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
        *("seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty"),
        *("sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million"),
        *("billion", "first", "second", "third", "half", "dozen"),
    }
)


def normalise(text: str) -> str:
    """The form two statements of the same fact share: compatibility-normalised, casefolded,
    whitespace collapsed, trailing punctuation gone."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING.sub("", _SPACES.sub(" ", folded).strip())


def anchors(text: str) -> frozenset[str]:
    """Words that change what a statement says when they change: numbers, negations and
    proper nouns (capitalised other than first in the text), casefolded."""
    found: set[str] = set()
    for index, match in enumerate(_WORD.finditer(unicodedata.normalize("NFKC", text))):
        word = match.group()
        folded = word.casefold()
        if folded.endswith(("n't", "n\u2019t")):
            found.add("not")
            continue
        marked = folded in _NEGATIONS or folded in _NUMBER_WORDS or any(c.isdigit() for c in word)
        proper = index > 0 and word[0].isupper() and not _PRONOUN_I.fullmatch(folded)
        if marked or proper:
            found.add(folded)
    return frozenset(found)


def words(text: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text)))


def same_anchors(a: str, b: str) -> bool:
    """Whether neither text has an anchor the other lacks (as an anchor or a plain word:
    "Vim is my editor" and "My editor is vim" agree)."""
    words_a, words_b = words(a), words(b)
    return anchors(a) <= words_b and anchors(b) <= words_a


def near_duplicate(score: float, new: str, old: str) -> bool:
    return score >= NEAR_DUPLICATE and same_anchors(new, old)
