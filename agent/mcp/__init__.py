"""MCP: tools from Model Context Protocol servers, configured per node, listed and called
across the cluster (`ctx.tools`), each server kept running by its own supervisor."""
