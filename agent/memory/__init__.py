"""Fabric Memory: facts the assistant remembers, cluster-wide. A fact is updated rather than
piled up: the same fact twice is one fact, a correction supersedes the old one (kept in
history), and nothing is deleted except by a delete call."""
