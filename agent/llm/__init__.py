"""LLM subsystem: every node's Ollama as one pool, with a sharding planner."""
