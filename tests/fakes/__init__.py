"""Test doubles that speak real third-party protocols (e.g. a fake Ollama server)."""
