"""Topics the cluster subsystem publishes."""

NODE_UPDATED = "node.updated"
