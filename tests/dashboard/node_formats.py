"""The dashboard's number formats (assets/core/format.js) in Python, so a test can say what
text the page must show for a value the API answered.

JavaScript's toFixed rounds the exact binary value half away from zero; Decimal(float) is
that exact value, so ROUND_HALF_UP on it gives the same digits.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def to_fixed(value: float, digits: int) -> str:
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def fmt_bytes(n: float) -> str:
    """format.js `bytes`."""
    value, i = float(n), 0
    while abs(value) >= 1024 and i < len(UNITS) - 1:
        value /= 1024
        i += 1
    return f"{to_fixed(value, 0 if i == 0 or value >= 100 else 1)} {UNITS[i]}"


def fmt_pct(p: float) -> str:
    """format.js `pct`."""
    return f"{to_fixed(p, 1)}%"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
