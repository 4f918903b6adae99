import random

import pytest

from agent.storage.paths import (
    MAX_COMPONENT_BYTES,
    MAX_PATH_BYTES,
    InvalidPath,
    normalize,
    normalize_prefix,
)

GOOD = [
    ("a", "a"),
    ("a/b/c.txt", "a/b/c.txt"),
    ("a//b", "a/b"),
    ("a///b//c", "a/b/c"),
    (".hidden", ".hidden"),
    ("dir/.hidden/.x", "dir/.hidden/.x"),
    ("...", "..."),
    ("a..b/..c/d..", "a..b/..c/d.."),
    ("%2e%2e", "%2e%2e"),  # the router already URL-decoded; this is a literal name
    ("%2e%2e/%2fetc%2fpasswd", "%2e%2e/%2fetc%2fpasswd"),
    ("cafe\u0301.txt", "caf\u00e9.txt"),  # NFD input -> NFC
    ("caf\u00e9.txt", "caf\u00e9.txt"),
    ("日本語/ファイル.txt", "日本語/ファイル.txt"),
    ("party 🎉.png", "party 🎉.png"),
    ("\uff0e\uff0e", "\uff0e\uff0e"),  # fullwidth dots are not '..' under NFC
    (" leading and trailing ", " leading and trailing "),
    ("a:b;c'd\"e", "a:b;c'd\"e"),
    ("x" * MAX_COMPONENT_BYTES, "x" * MAX_COMPONENT_BYTES),
    ("é" * 127 + "a", "é" * 127 + "a"),  # 255 bytes
    ("e\u0301" * 127, "é" * 127),  # 381 bytes as given, 254 after NFC
    ("/".join(["y" * 204] * 5), "/".join(["y" * 204] * 5)),  # exactly 1024 bytes
]

BAD = [
    ("", "empty"),
    ("   ", "whitespace-only"),
    ("\u3000", "whitespace-only"),
    ("/etc/passwd", "absolute"),
    ("/", "absolute"),
    ("//a", "absolute"),
    ("..", "'..'"),
    ("../etc/passwd", "'..'"),
    ("a/../b", "'..'"),
    ("a/..", "'..'"),
    ("a//..//b", "'..'"),
    (".", "'.'"),
    ("./a", "'.'"),
    ("a/./b", "'.'"),  # refused, not resolved
    ("a/b/", "end with '/'"),
    ("a\x00b", "NUL"),
    ("\x00", "NUL"),
    ("a\nb", "control character (U+000A)"),
    ("a\tb", "control character (U+0009)"),
    ("a\x1fb", "control character (U+001F)"),
    ("a\x7fb", "control character (U+007F)"),
    ("a\x85b", "control character (U+0085)"),
    ("a\x9bb", "control character (U+009B)"),
    ("a\\b", "backslash"),
    ("..\\..\\windows", "backslash"),
    ("a/ /b", "whitespace-only component"),
    ("a\ud800b", "surrogate"),
    ("x" * (MAX_COMPONENT_BYTES + 1), "limit is 255"),
    ("é" * 128, "256 bytes"),  # 128 characters, but bytes are what count
    ("e\u0301" * 128, "256 bytes"),  # the limit applies after NFC
    ("/".join(["y" * 204] * 5) + "z", "1025 bytes"),
    ("a/" * 600 + "b", "limit is 1024"),
    ("a" * 1_000_000, "too long"),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_normalize_accepts(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize(("raw", "problem"), BAD)
def test_normalize_refuses_with_a_message_naming_the_problem(raw: str, problem: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        normalize(raw)
    assert problem in str(caught.value)
    assert len(str(caught.value)) < 200  # never echoes a huge input back


def test_invalid_path_is_a_value_error() -> None:
    assert issubclass(InvalidPath, ValueError)


@pytest.mark.parametrize("value", [b"a/b", None, 3])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidPath, match="must be a string"):
        normalize(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("docs", "docs"),
        ("docs/", "docs"),
        ("docs//", "docs"),
        ("a//b/", "a/b"),
        ("cafe\u0301/", "caf\u00e9"),
        (".hidden/", ".hidden"),
    ],
)
def test_normalize_prefix_accepts(raw: str, expected: str) -> None:
    assert normalize_prefix(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("/", "absolute"),
        ("/docs/", "absolute"),
        ("../", "'..'"),
        ("a/../", "'..'"),
        ("./", "'.'"),
        ("  ", "whitespace-only"),
        ("  /", "whitespace-only component"),
        ("a\x00/", "NUL"),
        ("a\\", "backslash"),
    ],
)
def test_normalize_prefix_refuses(raw: str, problem: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        normalize_prefix(raw)
    assert problem in str(caught.value)
    assert "prefix" in str(caught.value)


def test_random_inputs_either_refuse_or_give_a_canonical_fixed_point() -> None:
    alphabet = ["a", "b", ".", "/", " ", "\\", "\x00", "\n", "é", "e\u0301", "\uff0e", "🎉"]
    rng = random.Random(1234)
    for _ in range(5000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            result = normalize(raw)
        except InvalidPath:
            continue
        assert normalize(result) == result
        assert not result.startswith("/")
        assert not result.endswith("/")
        assert "\\" not in result
        assert "\x00" not in result
        assert len(result.encode()) <= MAX_PATH_BYTES
        for part in result.split("/"):
            assert part not in ("", ".", "..")
            assert part.strip()
