"""Cluster subsystem: membership, join/leave/evict, heartbeats and the cluster view.

`create(ctx)` needs `ctx.telemetry` and provides `ctx.cluster`, the read-only view every
other subsystem uses (see `core.cluster`).
"""
