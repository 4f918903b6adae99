"""The fabric as an MCP server: the SDK's operations (nodes, tasks, storage, brain, chat,
memory) as tools any MCP client can call, over stdio (`openfabric mcp serve`) or streamable
HTTP (`/mcp` on the local API). Every tool goes through `agent.client.AgentClient`."""
