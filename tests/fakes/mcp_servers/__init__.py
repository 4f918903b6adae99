"""MCP servers the tests run, written with the SDK's `MCPServer`."""

from pathlib import Path

SERVER = Path(__file__).with_name("server.py")
