"""Reading CEL source without evaluating it: its tokens, how deep it nests, which dotted
paths it reads, and where `${{ ... }}` expressions sit in a template string."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NESTING = 32
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[uU]?|0[xX][0-9a-fA-F]+[uU]?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])""",
    re.VERBOSE | re.DOTALL,
)
_MACROS = frozenset({"map", "filter", "all", "exists", "exists_one"})
_OPENERS, _CLOSERS = "([{", ")]}"
# Names CEL itself gives meaning to: types, and the namespaces of library functions.
_BUILTIN_NAMES = frozenset(
    {"true", "false", "null", "in", "int", "uint", "double", "bool", "string", "bytes", "list"}
    | {"map", "type", "null_type", "dyn", "timestamp", "duration", "math", "strings", "base64"}
    | {"sets", "lists", "optional"}
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokens(source: str) -> list[Token]:
    """The tokens of `source`; an unreadable character ends the list (the compiler says why)."""
    found: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None or match.lastgroup is None:
            break
        if match.lastgroup != "space":
            found.append(Token(match.lastgroup, match.group()))
        position = match.end()
    return found


def nesting(found: list[Token]) -> int:
    """How deep brackets of any kind nest."""
    depth = deepest = 0
    for token in found:
        if token.kind == "punct" and token.text in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif token.kind == "punct" and token.text in _CLOSERS:
            depth -= 1
    return deepest


def _string_value(text: str) -> str | None:
    """The value of a simple quoted key (`["body"]`); None for anything fancier."""
    match = re.fullmatch(r"""'([A-Za-z0-9_.-]*)'|"([A-Za-z0-9_.-]*)\"""", text)
    return None if match is None else (match.group(1) or match.group(2) or "")


def _bound_names(found: list[Token]) -> set[str]:
    """Variables that comprehensions (`list.map(x, ...)`) bind."""
    names: set[str] = set()
    for i in range(len(found) - 4):
        a, b, c, d, e = found[i : i + 5]
        macro = a.text == "." and b.text in _MACROS and c.text == "("
        if macro and d.kind == "ident" and e.text == ",":
            names.add(d.text)
    return names


def references(found: list[Token]) -> frozenset[tuple[str, ...]]:
    """The dotted paths read, as far as they are written literally: `steps.fetch.outputs.body`
    is ("steps", "fetch", "outputs", "body"); `steps[x].outputs` is ("steps",)."""
    bound = _bound_names(found)
    paths: set[tuple[str, ...]] = set()
    i = 0
    while i < len(found):
        token = found[i]
        after_dot = i > 0 and found[i - 1].text == "."
        is_root = token.kind == "ident" and not after_dot
        if not is_root or token.text in bound or token.text in _BUILTIN_NAMES:
            i += 1
            continue
        if i + 1 < len(found) and found[i + 1].text == "(":
            i += 1  # a function call, not a variable
            continue
        path = [token.text]
        j = i + 1
        while j + 1 < len(found):
            if found[j].text == "." and found[j + 1].kind == "ident":
                if j + 2 < len(found) and found[j + 2].text == "(":
                    break  # a method: the path ends before it
                path.append(found[j + 1].text)
                j += 2
            elif found[j].text == "[" and j + 2 < len(found) and found[j + 2].text == "]":
                key = _string_value(found[j + 1].text)
                if key is None:
                    break
                path.append(key)
                j += 3
            else:
                break
        paths.add(tuple(path))
        i = j
    return frozenset(paths)


def expression_spans(text: str) -> list[tuple[int, int]] | None:
    """(start, end) of each `${{ ... }}` in `text`, outer braces included; None when a `${{`
    is not closed. Braces and quotes inside the expression are skipped over, so
    `${{ {'a': 1}['a'] }}` is one expression."""
    spans: list[tuple[int, int]] = []
    start = text.find("${{")
    while start >= 0:
        end = _closing(text, start + 3)
        if end is None:
            return None
        spans.append((start, end))
        start = text.find("${{", end)
    return spans


def _closing(text: str, position: int) -> int | None:
    depth = 0
    quote: str | None = None
    while position < len(text):
        char = text[position]
        if quote is not None:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0 and text.startswith("}}", position):
                return position + 2
            depth = max(depth - 1, 0)
        position += 1
    return None
