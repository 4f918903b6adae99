"""An event trigger's `filter`: a condition over `event` ({topic, id, data})."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from agent.flows.expressions import compile_condition

log = logging.getLogger("openfabric.flows")
Filter = Callable[[Mapping[str, Any]], bool]


def compile_filter(text: str) -> Filter:
    """The filter as a predicate; raises ValueError when `text` is not a condition. A filter
    that fails on an event (a missing key, a non-bool result) does not hold for it. It blocks
    while the sandboxed evaluator works: call it from a worker thread."""

    condition = compile_condition(text)

    def holds(scope: Mapping[str, Any]) -> bool:
        try:
            return condition.holds(scope)
        except Exception as exc:  # a filter must never stop the other triggers
            log.debug("event filter %r failed: %s", text, exc)
            return False

    return holds
