"""Local LLM support: planning how models are placed on cluster nodes."""
