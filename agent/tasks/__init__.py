"""Tasks subsystem: shell commands run anywhere in the cluster, placed by a scheduler with a
circuit breaker per node, with live output."""
