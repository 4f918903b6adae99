"""Cutting what a node pushes to a member into bodies the member accepts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def json_batches(
    items: Iterable[dict[str, Any]], *, max_items: int, max_bytes: int
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of at most `max_items` items and about `max_bytes` of JSON each
    (an item larger than `max_bytes` goes alone)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for item in items:
        length = len(json.dumps(item))
        if batch and (len(batch) == max_items or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += length
    if batch:
        yield batch
