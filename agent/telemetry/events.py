"""Bus topics the telemetry subsystem publishes.

`node.telemetry`: one `Sample` (see `schema.py`) per sampling interval; it already carries
`node_id`, so consumers of remote nodes' samples can use the same shape.
"""

from __future__ import annotations

from typing import Final

NODE_TELEMETRY: Final = "node.telemetry"

TOPICS: Final = (NODE_TELEMETRY,)
