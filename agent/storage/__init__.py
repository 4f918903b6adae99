"""Shared storage: content-addressed chunks replicated across nodes."""
