"""Storage subsystem: one namespace of files across the cluster, chunked, replicated and
verified."""
