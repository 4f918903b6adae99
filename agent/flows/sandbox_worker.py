"""The process that evaluates CEL for flows, started by agent/flows/sandbox.py.

It runs as a script in isolated mode (`python -I sandbox_worker.py`) and imports nothing of
the agent, so an expression can reach nothing but the values it is given. Its memory is
capped here and its time by the parent (which kills it), so an expression that builds huge
values or runs for long costs one worker, not the agent.

Protocol, one JSON document a line: `{"ready": true}` once started, then the request
`{"sources": [...], "scope": {...}, "max_bytes": N}`, the answer `{"values": [...]}` or
`{"index": i, "kind": k, "message": m}`.
"""

from __future__ import annotations

import base64
import datetime
import json
import resource
import sys
from typing import Any

MEMORY_LIMIT = 1 << 30
PROGRAMS_KEPT = 512


def _plain(value: Any) -> Any:
    """A CEL result as a JSON value."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "has_value"):
        return _plain(value.value()) if value.has_value() else None
    return str(value)


def _kind(error: BaseException) -> str:
    return type(error).__name__


def _serve() -> None:
    import cel
    from cel.stdlib import add_stdlib_to_context

    programs: dict[str, Any] = {}
    sys.stdout.write('{"ready": true}\n')
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        context = cel.Context()
        add_stdlib_to_context(context)
        context.update(request["scope"])
        values: list[Any] = []
        answer: dict[str, Any] = {"values": values}
        for index, source in enumerate(request["sources"]):
            try:
                program = programs.get(source)
                if program is None:
                    if len(programs) >= PROGRAMS_KEPT:
                        programs.clear()
                    program = programs[source] = cel.compile(source)
                value = _plain(program.execute(context))
                if len(json.dumps(value)) > request["max_bytes"]:
                    answer = {"index": index, "kind": "TooLarge", "message": ""}
                    break
                values.append(value)
            except Exception as error:  # every failure of an expression goes back to its flow
                answer = {"index": index, "kind": _kind(error), "message": str(error)}
                break
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    _serve()
