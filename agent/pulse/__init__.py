"""Fabric Pulse: rules over the cluster's telemetry and state that raise insight cards before
a problem hurts, with hysteresis, minimum durations and clear delays; one evaluator per
cluster publishes the cards, every member serves them."""
