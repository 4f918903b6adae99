"""What each `uses:` of a step does: one module per family of actions."""
