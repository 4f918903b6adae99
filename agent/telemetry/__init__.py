"""Telemetry: what this node is and how busy it is, sampled every `telemetry_interval`.

`create(ctx)` wires the subsystem and provides `ctx.telemetry` (`latest()`, `summarize()`);
other subsystems read nothing else of it, and listen to `node.telemetry`.
"""
